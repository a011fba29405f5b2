// Chat formats: detection markers and exact rendered text (llama.cpp's built-in templates).
#include <gtest/gtest.h>

#include <filesystem>

#include "slim/chat.h"
#include "slim/gguf.h"

using slim::ChatFormat;
using slim::ChatMessage;
using slim::ChatTemplate;
using slim::detect_chat_format;
using slim::detect_chat_template;
using slim::format_chat;

namespace {

const std::vector<ChatMessage> kConv = {
    {"system", "Be brief."},
    {"user", "Hi!"},
    {"assistant", "Hello."},
    {"user", "What is 2+2?"},
};

// The SmolLM2-135M-Instruct GGUF's tokenizer.chat_template, verbatim (model metadata, used as test data).
const std::string kSmolTemplate =
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

}  // namespace

TEST(Chat, DetectByMarkers) {
  EXPECT_EQ(detect_chat_format("{{ '<|im_start|>' + role }}", ""), ChatFormat::ChatML);
  EXPECT_EQ(detect_chat_format("{{ '<start_of_turn>' + role }}", "llama"), ChatFormat::Gemma);
  EXPECT_EQ(detect_chat_format("<|start_header_id|>{{ role }}<|end_header_id|>", ""), ChatFormat::Llama3);
  EXPECT_EQ(detect_chat_format("{{ bos_token + '[INST] ' + content + ' [/INST]' }}", ""), ChatFormat::Llama2);
  EXPECT_EQ(detect_chat_format("<|user|>\n{{ content }}<|endoftext|>", ""), ChatFormat::Zephyr);
  EXPECT_EQ(detect_chat_format(kSmolTemplate, "llama"), ChatFormat::ChatML);
}

TEST(Chat, DetectFollowsLlamaCppOrder) {
  // ChatML markers win over anything later in the chain.
  EXPECT_EQ(detect_chat_format("<|im_start|> <start_of_turn> <|start_header_id|><|end_header_id|>", ""),
            ChatFormat::ChatML);
  // Llama 3 needs both header markers.
  EXPECT_EQ(detect_chat_format("<|start_header_id|> only", "qwen2"), ChatFormat::ChatML);
  // Families llama.cpp recognises but slim does not render are Unknown, not a later match.
  EXPECT_EQ(detect_chat_format("<|im_start|><|im_sep|>", "llama"), ChatFormat::Unknown);               // Phi 4
  EXPECT_EQ(detect_chat_format("<|user|> <|assistant|> <|end|>", "llama"), ChatFormat::Unknown);        // Phi 3
  EXPECT_EQ(detect_chat_format("[INST] [SYSTEM_PROMPT]", "llama"), ChatFormat::Unknown);               // Mistral v7
  EXPECT_EQ(detect_chat_format("<|user|><|assistant|></s><|endoftext|>", "llama"), ChatFormat::Unknown);  // Falcon 3
}

TEST(Chat, DetectByNameAndArch) {
  EXPECT_EQ(detect_chat_format("gemma", "llama"), ChatFormat::Gemma);
  EXPECT_EQ(detect_chat_format("chatml", "gemma3"), ChatFormat::ChatML);
  EXPECT_EQ(detect_chat_format("llama3", ""), ChatFormat::Llama3);
  EXPECT_EQ(detect_chat_format("zephyr", ""), ChatFormat::Zephyr);
  EXPECT_EQ(detect_chat_format("", "gemma3"), ChatFormat::Gemma);
  EXPECT_EQ(detect_chat_format("", "qwen2"), ChatFormat::ChatML);
  EXPECT_EQ(detect_chat_format("", "qwen3"), ChatFormat::ChatML);
  EXPECT_EQ(detect_chat_format("", "llama"), ChatFormat::Llama3);
  EXPECT_EQ(detect_chat_format("", "mamba"), ChatFormat::ChatML);  // llama.cpp's default without a template
  EXPECT_EQ(detect_chat_format("{{ something else }}", "gemma3"), ChatFormat::Gemma);
  EXPECT_EQ(detect_chat_format("{{ something else }}", "mamba"), ChatFormat::Unknown);
  EXPECT_STREQ(slim::chat_format_name(ChatFormat::Gemma), "gemma");
  EXPECT_STREQ(slim::chat_format_name(ChatFormat::Unknown), "unknown");
}

TEST(Chat, ChatML) {
  EXPECT_EQ(format_chat(ChatFormat::ChatML, kConv, true),
            "<|im_start|>system\nBe brief.<|im_end|>\n"
            "<|im_start|>user\nHi!<|im_end|>\n"
            "<|im_start|>assistant\nHello.<|im_end|>\n"
            "<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
            "<|im_start|>assistant\n");
  // Contents are not trimmed; no generation prompt on request.
  EXPECT_EQ(format_chat(ChatFormat::ChatML, {{"user", " x \n"}}, false), "<|im_start|>user\n x \n<|im_end|>\n");
}

TEST(Chat, Gemma) {
  // System text joins the first user turn after a blank line; "assistant" becomes "model"; trimmed.
  EXPECT_EQ(format_chat(ChatFormat::Gemma, kConv, true),
            "<start_of_turn>user\nBe brief.\n\nHi!<end_of_turn>\n"
            "<start_of_turn>model\nHello.<end_of_turn>\n"
            "<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n"
            "<start_of_turn>model\n");
  EXPECT_EQ(format_chat(ChatFormat::Gemma, {{"user", "  hello \n"}}, false), "<start_of_turn>user\nhello<end_of_turn>\n");
  // A system message before an assistant turn waits for the next user turn.
  EXPECT_EQ(format_chat(ChatFormat::Gemma, {{"system", " S "}, {"assistant", "A"}, {"user", "U"}}, false),
            "<start_of_turn>model\nA<end_of_turn>\n<start_of_turn>user\nS\n\nU<end_of_turn>\n");
}

TEST(Chat, Llama3) {
  EXPECT_EQ(format_chat(ChatFormat::Llama3, kConv, true),
            "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(Chat, Llama2Variants) {
  EXPECT_EQ(format_chat(ChatFormat::Llama2, kConv, true),
            "[INST] Be brief.\nHi! [/INST]Hello.</s>[INST] What is 2+2? [/INST]");
  const std::string sys_tmpl = "{{ '<<SYS>>\\n' + system }}[INST]";
  ChatTemplate t = detect_chat_template(sys_tmpl, "");
  ASSERT_EQ(t.format, ChatFormat::Llama2);
  EXPECT_TRUE(t.llama2_sys);
  EXPECT_EQ(format_chat(t, kConv, true),
            "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi! [/INST]Hello.</s>[INST] What is 2+2? [/INST]");
  t = detect_chat_template("{{ bos_token + '[INST] ' }} <<SYS>>", "");
  EXPECT_TRUE(t.llama2_bos_inside);
  EXPECT_EQ(format_chat(t, kConv, false),
            "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi! [/INST]Hello.</s><s>[INST] What is 2+2? [/INST]");
  t = detect_chat_template("[INST] {{ content.strip() }}", "");
  EXPECT_TRUE(t.llama2_strip);
  EXPECT_EQ(format_chat(t, {{"user", " Hi "}}, false), "[INST] Hi [/INST]");
}

TEST(Chat, Zephyr) {
  EXPECT_EQ(format_chat(ChatFormat::Zephyr, kConv, true),
            "<|system|>\nBe brief.<|endoftext|>\n"
            "<|user|>\nHi!<|endoftext|>\n"
            "<|assistant|>\nHello.<|endoftext|>\n"
            "<|user|>\nWhat is 2+2?<|endoftext|>\n"
            "<|assistant|>\n");
}

TEST(Chat, SmolLMDefaultSystemPrompt) {
  const ChatTemplate t = detect_chat_template(kSmolTemplate, "llama");
  ASSERT_EQ(t.format, ChatFormat::ChatML);
  EXPECT_EQ(t.default_system, "You are a helpful AI assistant named SmolLM, trained by Hugging Face");
  EXPECT_EQ(format_chat(t, {{"user", "Hi"}}, true),
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  // A caller-given system message replaces the default.
  EXPECT_EQ(format_chat(t, {{"system", "S"}, {"user", "Hi"}}, false),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");
  // No messages: nothing but the generation prompt (the Jinja loop never runs).
  EXPECT_EQ(format_chat(t, {}, true), "<|im_start|>assistant\n");
  // Plain ChatML templates get no default.
  EXPECT_EQ(detect_chat_template("{% for m in messages %}{{'<|im_start|>' + m['role'] + '\n'}}{% endfor %}", "")
                .default_system,
            "");
}

TEST(Chat, RealModelTemplates) {
  const std::string smol = SLIM_SOURCE_DIR "/models/smollm2-135m-instruct-q4_1.gguf";
  const std::string gemma = SLIM_SOURCE_DIR "/models/gemma-3-270m-q4_k_m.gguf";
  if (!std::filesystem::exists(smol) || !std::filesystem::exists(gemma)) GTEST_SKIP() << "models/ not present";
  auto fs = slim::GgufFile::open(smol);
  const std::string tmpl = fs->get_string("tokenizer.chat_template", "");
  EXPECT_EQ(tmpl, kSmolTemplate);
  const ChatTemplate t = detect_chat_template(tmpl, fs->get_string("general.architecture"));
  EXPECT_EQ(t.format, ChatFormat::ChatML);
  EXPECT_EQ(t.default_system, "You are a helpful AI assistant named SmolLM, trained by Hugging Face");
  // The Gemma 3 270M file is a base model without a template: the architecture decides.
  auto fg = slim::GgufFile::open(gemma);
  EXPECT_EQ(detect_chat_format(fg->get_string("tokenizer.chat_template", ""), fg->get_string("general.architecture")),
            ChatFormat::Gemma);
}

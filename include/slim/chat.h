// Chat prompt formatting. Known template families are detected from the GGUF's tokenizer.chat_template
// text (as llama.cpp does without --jinja); a model without a template gets its family's built-in one.
// The rendered text is what llama.cpp's llm_chat_apply_template() produces for the family; it carries no
// BOS (the tokenizer adds it, as llama.cpp does). See docs/sampling.md, "Chat formats".
#pragma once
#include <string>
#include <vector>

namespace slim {

struct ChatMessage {
  std::string role;  // "system" | "user" | "assistant"
  std::string content;
};

enum class ChatFormat { ChatML, Gemma, Llama3, Llama2, Zephyr, Unknown };

// Picks the format from a template text (may be empty) and an architecture name fallback.
// 1. A template text that is exactly a family name ("chatml", "gemma", "llama3", "llama2", "zephyr")
//    selects that family, as llama.cpp's --chat-template NAME does.
// 2. Otherwise llama.cpp's llm_chat_detect_template() markers, in its order: "<|im_start|>" → ChatML,
//    "[INST]" → Llama2, "<|user|>" + "<|endoftext|>" → Zephyr, "<start_of_turn>" → Gemma,
//    "<|start_header_id|>" + "<|end_header_id|>" → Llama3. Families that llama.cpp recognises first but
//    slim does not render (Phi 3/4, SmolVLM, Mistral, Falcon 3, GLM ...) give Unknown rather than a wrong
//    prompt.
// 3. Empty template (or no marker): by architecture — "gemma", "gemma2", "gemma3" → Gemma; "qwen2",
//    "qwen3" → ChatML; "llama" → Llama3. An empty template with another architecture → ChatML (what
//    llama.cpp falls back to for a model without a template); a non-empty, unrecognised template with
//    another architecture → Unknown.
ChatFormat detect_chat_format(const std::string& template_text, const std::string& arch);
const char* chat_format_name(ChatFormat f);

// Renders messages; add_generation_prompt appends the assistant-turn opener. Unknown renders the
// contents one after another, each followed by "\n" (no markup), so a raw completion still works.
std::string format_chat(ChatFormat f, const std::vector<ChatMessage>& msgs, bool add_generation_prompt);

// Everything format_chat needs from a model's template, beyond the family.
struct ChatTemplate {
  ChatFormat format = ChatFormat::Unknown;
  // Inserted as a leading system message when the conversation does not start with one (the SmolLM2
  // template does this with "You are a helpful AI assistant named SmolLM, trained by Hugging Face").
  std::string default_system;
  // llama.cpp's Llama 2 variants: <<SYS>> block, "<s>" inside the history, contents trimmed.
  bool llama2_sys = false;
  bool llama2_bos_inside = false;
  bool llama2_strip = false;
};

// detect_chat_format plus the details above, read from the template text.
ChatTemplate detect_chat_template(const std::string& template_text, const std::string& arch);
std::string format_chat(const ChatTemplate& t, const std::vector<ChatMessage>& msgs, bool add_generation_prompt);

}  // namespace slim

// Chat formats: detection by template markers (llama.cpp's llm_chat_detect_template order) and rendering
// identical to llama.cpp's built-in (non-Jinja) templates for the families slim supports.
#include "slim/chat.h"

#include <sstream>

namespace slim {

namespace {

bool has(const std::string& s, const char* needle) { return s.find(needle) != std::string::npos; }

// Same whitespace set as C isspace() in the "C" locale, which llama.cpp's trim uses.
bool is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && is_space(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && is_space(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

ChatTemplate from_name(const std::string& name, bool& found) {
  found = true;
  ChatTemplate t;
  if (name == "chatml") t.format = ChatFormat::ChatML;
  else if (name == "gemma") t.format = ChatFormat::Gemma;
  else if (name == "llama3") t.format = ChatFormat::Llama3;
  else if (name == "zephyr") t.format = ChatFormat::Zephyr;
  else if (name == "llama2") t.format = ChatFormat::Llama2;
  else if (name == "llama2-sys") t = {ChatFormat::Llama2, "", true, false, false};
  else if (name == "llama2-sys-bos") t = {ChatFormat::Llama2, "", true, true, false};
  else if (name == "llama2-sys-strip") t = {ChatFormat::Llama2, "", true, false, true};
  else found = false;
  return t;
}

// The llama.cpp detection chain up to its Llama 3 branch (later branches cannot shadow ours). Families
// slim does not render map to Unknown so that they are not mistaken for a later marker.
ChatTemplate from_markers(const std::string& s, bool& found) {
  found = true;
  ChatTemplate t;
  if (has(s, "<|im_start|>")) {
    // Phi 4 and SmolVLM reuse <|im_start|> with different markup.
    t.format = (has(s, "<|im_sep|>") || has(s, "<end_of_utterance>")) ? ChatFormat::Unknown : ChatFormat::ChatML;
  } else if (s.rfind("mistral", 0) == 0 || has(s, "[INST]")) {
    if (has(s, "[SYSTEM_PROMPT]") || has(s, "' [INST] ' + system_message") || has(s, "[AVAILABLE_TOOLS]")) {
      t.format = ChatFormat::Unknown;  // Mistral v1/v3/v7
    } else {
      t.format = ChatFormat::Llama2;
      if (has(s, "content.strip()")) {
        t.llama2_sys = t.llama2_strip = true;
      } else if (has(s, "bos_token + '[INST]")) {
        t.llama2_sys = t.llama2_bos_inside = true;
      } else {
        t.llama2_sys = has(s, "<<SYS>>");
      }
    }
  } else if (has(s, "<|assistant|>") && has(s, "<|end|>")) {
    t.format = ChatFormat::Unknown;  // Phi 3
  } else if (has(s, "[gMASK]<sop>")) {
    t.format = ChatFormat::Unknown;  // ChatGLM 4
  } else if (has(s, "<|assistant|>") && has(s, "<|user|>")) {
    t.format = ChatFormat::Unknown;  // Falcon 3, GLM-Edge, EXAONE MoE
  } else if (has(s, "<|{{ item['role'] }}|>") && has(s, "<|begin_of_image|>")) {
    t.format = ChatFormat::Unknown;  // GLM-Edge
  } else if (has(s, "<|user|>") && has(s, "<|endoftext|>")) {
    t.format = ChatFormat::Zephyr;
  } else if (has(s, "bos_token + message['role']")) {
    t.format = ChatFormat::Unknown;  // Monarch
  } else if (has(s, "<start_of_turn>")) {
    t.format = ChatFormat::Gemma;
  } else if (has(s, "'\\n\\nAssistant: ' + eos_token") || has(s, "GPT4 Correct ") ||
             (has(s, "USER: ") && has(s, "ASSISTANT: ")) || (has(s, "### Instruction:") && has(s, "<|EOT|>")) ||
             (has(s, "<|START_OF_TURN_TOKEN|>") && has(s, "<|USER_TOKEN|>"))) {
    t.format = ChatFormat::Unknown;  // Orion, OpenChat, Vicuna, DeepSeek coder, Command-R
  } else if (has(s, "<|start_header_id|>") && has(s, "<|end_header_id|>")) {
    t.format = ChatFormat::Llama3;
  } else {
    found = false;
  }
  return t;
}

ChatFormat from_arch(const std::string& arch, bool& found) {
  found = true;
  if (arch == "gemma" || arch == "gemma2" || arch == "gemma3") return ChatFormat::Gemma;
  if (arch == "qwen2" || arch == "qwen3") return ChatFormat::ChatML;
  if (arch == "llama") return ChatFormat::Llama3;
  found = false;
  return ChatFormat::Unknown;
}

// A ChatML template that writes a fixed system turn when the conversation lacks one (SmolLM2, Qwen 2.5):
// the literal between "<|im_start|>system" + newline and "<|im_end|>", if it holds no Jinja expression.
std::string chatml_default_system(const std::string& s) {
  if (!has(s, "'system'")) return "";  // the template must test for a caller-given system message
  for (const char* opener : {"<|im_start|>system\n", "<|im_start|>system\\n"}) {
    const size_t a = s.find(opener);
    if (a == std::string::npos) continue;
    const size_t from = a + std::string(opener).size();
    const size_t b = s.find("<|im_end|>", from);
    if (b == std::string::npos) continue;
    const std::string lit = s.substr(from, b - from);
    if (lit.empty() || has(lit, "{") || has(lit, "}") || has(lit, "'") || has(lit, "\"") || has(lit, "\\")) continue;
    return lit;
  }
  return "";
}

}  // namespace

ChatTemplate detect_chat_template(const std::string& template_text, const std::string& arch) {
  bool found = false;
  ChatTemplate t = from_name(template_text, found);
  if (found) return t;
  if (!template_text.empty()) {
    t = from_markers(template_text, found);
    if (found) {
      if (t.format == ChatFormat::ChatML) t.default_system = chatml_default_system(template_text);
      return t;
    }
  }
  t = ChatTemplate{};
  t.format = from_arch(arch, found);
  if (!found) t.format = template_text.empty() ? ChatFormat::ChatML : ChatFormat::Unknown;
  return t;
}

ChatFormat detect_chat_format(const std::string& template_text, const std::string& arch) {
  return detect_chat_template(template_text, arch).format;
}

const char* chat_format_name(ChatFormat f) {
  switch (f) {
    case ChatFormat::ChatML: return "chatml";
    case ChatFormat::Gemma: return "gemma";
    case ChatFormat::Llama3: return "llama3";
    case ChatFormat::Llama2: return "llama2";
    case ChatFormat::Zephyr: return "zephyr";
    case ChatFormat::Unknown: break;
  }
  return "unknown";
}

std::string format_chat(ChatFormat f, const std::vector<ChatMessage>& msgs, bool add_generation_prompt) {
  ChatTemplate t;
  t.format = f;
  return format_chat(t, msgs, add_generation_prompt);
}

std::string format_chat(const ChatTemplate& t, const std::vector<ChatMessage>& in, bool add_generation_prompt) {
  const std::vector<ChatMessage>* msgs = &in;
  std::vector<ChatMessage> with_default;
  if (!t.default_system.empty() && !in.empty() && in.front().role != "system") {
    with_default.reserve(in.size() + 1);
    with_default.push_back({"system", t.default_system});
    with_default.insert(with_default.end(), in.begin(), in.end());
    msgs = &with_default;
  }

  std::ostringstream ss;
  switch (t.format) {
    case ChatFormat::ChatML:
      for (const auto& m : *msgs) ss << "<|im_start|>" << m.role << "\n" << m.content << "<|im_end|>\n";
      if (add_generation_prompt) ss << "<|im_start|>assistant\n";
      break;

    case ChatFormat::Gemma: {
      // No system role: system text (trimmed) opens the next user turn, followed by a blank line.
      std::string system;
      for (const auto& m : *msgs) {
        if (m.role == "system") {
          system += trim(m.content);
          continue;
        }
        const std::string role = m.role == "assistant" ? "model" : m.role;
        ss << "<start_of_turn>" << role << "\n";
        if (!system.empty() && role != "model") {
          ss << system << "\n\n";
          system.clear();
        }
        ss << trim(m.content) << "<end_of_turn>\n";
      }
      if (add_generation_prompt) ss << "<start_of_turn>model\n";
      break;
    }

    case ChatFormat::Llama3:
      for (const auto& m : *msgs)
        ss << "<|start_header_id|>" << m.role << "<|end_header_id|>\n\n" << trim(m.content) << "<|eot_id|>";
      if (add_generation_prompt) ss << "<|start_header_id|>assistant<|end_header_id|>\n\n";
      break;

    case ChatFormat::Llama2: {
      // The opening "[INST] " is written up front; the BOS before it comes from the tokenizer. Llama 2
      // has no generation prompt: the prompt already ends in "[/INST]".
      bool inside_turn = true;
      ss << "[INST] ";
      for (const auto& m : *msgs) {
        const std::string content = t.llama2_strip ? trim(m.content) : m.content;
        if (!inside_turn) {
          inside_turn = true;
          ss << (t.llama2_bos_inside ? "<s>[INST] " : "[INST] ");
        }
        if (m.role == "system") {
          if (t.llama2_sys) ss << "<<SYS>>\n" << content << "\n<</SYS>>\n\n";
          else ss << content << "\n";
        } else if (m.role == "user") {
          ss << content << " [/INST]";
        } else {
          ss << content << "</s>";
          inside_turn = false;
        }
      }
      break;
    }

    case ChatFormat::Zephyr:
      for (const auto& m : *msgs) ss << "<|" << m.role << "|>\n" << m.content << "<|endoftext|>\n";
      if (add_generation_prompt) ss << "<|assistant|>\n";
      break;

    case ChatFormat::Unknown:
      for (const auto& m : *msgs) ss << m.content << "\n";
      break;
  }
  return ss.str();
}

}  // namespace slim

// Chat prompt formatting. Known template families are detected from the GGUF's tokenizer.chat_template
// text (as llama.cpp does without --jinja); a model without a template gets its family's built-in one.
#pragma once
#include <string>
#include <vector>

namespace slim {

struct ChatMessage {
  std::string role;  // "system" | "user" | "assistant"
  std::string content;
};

enum class ChatFormat { ChatML, Gemma, Llama3, Llama2, Zephyr, Unknown };

// Picks the format from a template text (may be empty) and an architecture name fallback
// ("gemma3" → Gemma, "qwen2"/"qwen3" → ChatML, "llama" → Llama3 if the vocab has <|start_header_id|>...).
ChatFormat detect_chat_format(const std::string& template_text, const std::string& arch);
const char* chat_format_name(ChatFormat f);

// Renders messages; add_generation_prompt appends the assistant-turn opener.
std::string format_chat(ChatFormat f, const std::vector<ChatMessage>& msgs, bool add_generation_prompt);

}  // namespace slim

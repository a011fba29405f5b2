// slim::Error — the one exception type the engine throws for bad input (files, prompts, options).
// Messages name the problem and where it is ("gguf: tensor 'blk.0.attn_q.weight': offset 123 out of range").
#pragma once
#include <stdexcept>
#include <string>

namespace slim {

struct Error : std::runtime_error {
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace slim

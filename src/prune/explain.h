// `--explain FILE`: a self-contained HTML page showing which prompt tokens each layer computed.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "slim/context.h"

namespace slim {
class Tokenizer;

// tokens: the prompt as evaluated (stats.token_layers has one entry per token). Throws slim::Error if the
// file cannot be written or the stats do not describe this prompt.
void write_explain_html(const std::string& path, const Tokenizer& tok, const std::vector<int32_t>& tokens,
                        const PruneStats& stats, int n_layer, const std::string& title);

}  // namespace slim

#include "prune/explain.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "slim/error.h"
#include "slim/tokenizer.h"

namespace slim {

namespace {

std::string html_escape(const std::string& s) {
  std::string r;
  for (char c : s) {
    switch (c) {
      case '<': r += "&lt;"; break;
      case '>': r += "&gt;"; break;
      case '&': r += "&amp;"; break;
      case '"': r += "&quot;"; break;
      default: r += c;
    }
  }
  return r;
}

// Red (pruned at the first layer) through yellow to green (computed by every layer).
std::string depth_color(int layers, int n_layer) {
  const double t = n_layer > 0 ? double(layers) / n_layer : 1.0;
  const int hue = static_cast<int>(120 * t);
  char buf[48];
  std::snprintf(buf, sizeof buf, "hsl(%d,70%%,%d%%)", hue, t >= 1.0 ? 88 : 80);
  return buf;
}

}  // namespace

void write_explain_html(const std::string& path, const Tokenizer& tok, const std::vector<int32_t>& tokens,
                        const PruneStats& st, int n_layer, const std::string& title) {
  if (!st.active || st.token_layers.size() != tokens.size())
    throw Error("explain: the last prompt was not pruned (shorter than min_tokens, or --prune dense)");
  const int n = static_cast<int>(tokens.size());
  std::ostringstream h;
  h << "<!doctype html><html><head><meta charset=\"utf-8\"><title>slim --explain</title><style>"
       "body{font-family:sans-serif;margin:2em;max-width:80em}"
       ".t{white-space:pre-wrap;font-family:monospace;font-size:12px;line-height:1.6}"
       ".t span{border-radius:2px}</style></head><body>\n";
  h << "<h2>Which prompt tokens each layer computed</h2><p>" << html_escape(title) << "</p>\n";

  // 1. Rows per layer.
  const int bw = 28, chart_h = 160;
  h << "<h3>Rows computed per layer</h3><svg width=\"" << n_layer * bw + 60 << "\" height=\"" << chart_h + 40
    << "\">";
  for (int l = 0; l < n_layer; ++l) {
    const double f = n ? double(st.rows_per_layer[l]) / n : 0;
    const int bh = static_cast<int>(f * chart_h);
    h << "<rect x=\"" << 40 + l * bw << "\" y=\"" << 10 + chart_h - bh << "\" width=\"" << bw - 4 << "\" height=\""
      << bh << "\" fill=\"#4a7\"><title>layer " << l << ": " << st.rows_per_layer[l] << " rows</title></rect>";
    h << "<text x=\"" << 40 + l * bw + (bw - 4) / 2 << "\" y=\"" << chart_h + 25
      << "\" font-size=\"10\" text-anchor=\"middle\">" << l << "</text>";
  }
  h << "<text x=\"0\" y=\"20\" font-size=\"10\">100%</text><text x=\"0\" y=\"" << chart_h + 10
    << "\" font-size=\"10\">0%</text></svg>\n";

  // 2. Layer × position map: each column a bin of tokens, shaded by the fraction the layer computed.
  const int cols = std::min(n, 800), cell_h = 10;
  h << "<h3>Layer (rows, top = first) by prompt position (columns)</h3><svg width=\"" << cols + 40 << "\" height=\""
    << n_layer * cell_h + 20 << "\">";
  for (int l = 0; l < n_layer; ++l)
    for (int c = 0; c < cols; ++c) {
      const int b = int(int64_t(c) * n / cols), e = std::max(b + 1, int(int64_t(c + 1) * n / cols));
      int kept = 0;
      for (int i = b; i < e; ++i) kept += st.token_layers[i] > l;
      const int shade = 255 - 200 * kept / (e - b);
      h << "<rect x=\"" << 30 + c << "\" y=\"" << l * cell_h << "\" width=\"1\" height=\"" << cell_h
        << "\" fill=\"rgb(" << shade << "," << shade << ",255)\"/>";
    }
  for (int l = 0; l < n_layer; l += std::max(1, n_layer / 6))
    h << "<text x=\"0\" y=\"" << l * cell_h + 9 << "\" font-size=\"9\">L" << l << "</text>";
  h << "</svg>\n";

  // 3. The prompt text, each token coloured by how deep it went.
  h << "<h3>Prompt text</h3><p>Colour: red = pruned after the first layers, green = computed by all " << n_layer
    << " layers. Hover a token for details.</p><div class=\"t\">";
  for (int i = 0; i < n; ++i) {
    h << "<span style=\"background:" << depth_color(st.token_layers[i], n_layer) << "\" title=\"token " << i
      << ": " << st.token_layers[i] << "/" << n_layer << " layers\">"
      << html_escape(tok.token_to_piece(tokens[i], true)) << "</span>";
  }
  h << "</div></body></html>\n";
  std::ofstream out(path, std::ios::binary);
  if (!out) throw Error("explain: cannot write '" + path + "'");
  out << h.str();
  if (!out) throw Error("explain: write to '" + path + "' failed");
}

}  // namespace slim

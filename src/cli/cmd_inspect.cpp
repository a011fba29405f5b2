// `slim inspect MODEL`: metadata and tensor table of a GGUF file, plus what slim makes of it.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "slim/gguf.h"
#include "slim/model.h"

namespace slim::cli {

void add_inspect_command(CLI::App& app, InspectOptions& o) {
  CLI::App* cmd = app.add_subcommand("inspect", "Print a GGUF file's metadata and tensor table");
  cmd->add_option("model", o.model, "GGUF file (default: the installed Gemma 3 270M)");
  cmd->add_flag("--no-tensors", o.no_tensors, "Metadata only");
  cmd->callback([&o] { o.selected = true; });
}

int inspect_command(const InspectOptions& o) {
  const std::string path = resolve_model_path(o.model);
  std::unique_ptr<GgufFile> f = GgufFile::open(path);
  std::fputs(describe(*f, !o.no_tensors).c_str(), stdout);
  // Then whether slim can run it, with the reason if not.
  try {
    std::unique_ptr<Model> m = Model::load(path);
    const ModelConfig& c = m->config();
    std::printf("\nslim: runnable as %s: %d layers, n_embd %d, %d heads (%d kv) × %d, ffn %d, vocab %d, "
                "context %d%s\n",
                c.arch_name.c_str(), c.n_layer, c.n_embd, c.n_head, c.n_head_kv, c.head_dim, c.n_ff, c.n_vocab,
                c.n_ctx_train, c.sliding_window ? (", sliding window " + std::to_string(c.sliding_window)).c_str() : "");
  } catch (const Error& e) {
    std::printf("\nslim: cannot run this model: %s\n", e.what());
    return 1;
  }
  return 0;
}

}  // namespace slim::cli

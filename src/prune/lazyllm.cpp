// Placeholder until the LazyLLM implementation lands (issue 6): selecting the method is a clear error.
#include "prune/lazyllm.h"

#include "slim/error.h"

namespace slim {

struct LazyLLM::State {};

LazyLLM::LazyLLM(const Model&, const PruneConfig&, int) {
  throw Error("prune: lazyllm is not implemented yet");
}
LazyLLM::~LazyLLM() = default;
void LazyLLM::eval(const int32_t*, int, int32_t, std::vector<LayerKV>&, Workspace&, ThreadPool&, float*, float*,
                   const LogitsCallback*, const ProgressCallback*, PruneStats&) {}
void LazyLLM::truncate(int32_t) {}
void LazyLLM::reset() {}
size_t LazyLLM::aux_bytes() const { return 0; }

}  // namespace slim

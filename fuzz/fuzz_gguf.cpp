// libFuzzer target for the GGUF reader: any byte string must parse or throw slim::Error, never
// crash, hang or read out of bounds. Accepted files are also walked the way a loader would.
#include <cstddef>
#include <cstdint>

#include "slim/error.h"
#include "slim/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto f = slim::GgufFile::from_bytes(data, size, "fuzz");
    // Touch the first and last byte of every tensor so ASan checks the computed bounds.
    volatile uint8_t sink = 0;
    for (const slim::TensorView& t : f->tensors()) {
      if (t.nbytes) sink = sink + t.data[0] + t.data[t.nbytes - 1];
      if (f->find_tensor(t.name) == nullptr) __builtin_trap();
    }
    // Every getter on every key: they may throw slim::Error but must not crash.
    for (const auto& [key, v] : f->metadata()) {
      if (f->find(key) != &v) __builtin_trap();
      try { (void)f->get_int(key); } catch (const slim::Error&) {}
      try { (void)f->get_float(key); } catch (const slim::Error&) {}
      try { (void)f->get_bool(key, false); } catch (const slim::Error&) {}
      try { (void)f->get_string(key); } catch (const slim::Error&) {}
      try { (void)f->get_int_array(key); } catch (const slim::Error&) {}
      try { (void)f->get_float_array(key); } catch (const slim::Error&) {}
      try { (void)f->get_string_array(key); } catch (const slim::Error&) {}
    }
    (void)slim::describe(*f);
  } catch (const slim::Error&) {
    // Rejected input: the expected outcome for most mutations.
  }
  return 0;
}

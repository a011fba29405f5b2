// GGUF v3 reader: memory-maps the file, validates every offset/size, exposes typed metadata and
// zero-copy tensor views. Any malformed input throws slim::Error naming the problem; no read ever
// goes outside the mapped bytes.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "slim/error.h"
#include "slim/types.h"

namespace slim {

enum class GgufType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7, STRING = 8, ARRAY = 9,
  U64 = 10, I64 = 11, F64 = 12,
};

// One metadata value. Arrays hold their element type and a vector of scalar values or strings.
struct GgufValue {
  GgufType type = GgufType::U8;
  GgufType elem_type = GgufType::U8;  // for arrays
  // Scalars: integers in i (signed widened; u64 above INT64_MAX kept in u), floats in f, bool in i.
  int64_t i = 0;
  uint64_t u = 0;
  double f = 0;
  std::string s;
  // Arrays: numeric elements widened into one of these, strings into strs. Integer and bool elements go
  // to ints (U64 elements above INT64_MAX are stored wrapped, i.e. negative; get_int_array rejects
  // them), F32/F64 elements to floats.
  std::vector<int64_t> ints;
  std::vector<double> floats;
  std::vector<std::string> strs;

  bool is_array() const { return type == GgufType::ARRAY; }
  size_t array_size() const;
};

struct TensorView {
  std::string name;
  DType type = DType::F32;
  int n_dims = 0;
  int64_t ne[4] = {1, 1, 1, 1};  // ne[0] contiguous (row length), ne[1] rows, ...
  const uint8_t* data = nullptr;  // into the mapping; valid while the GgufFile lives
  size_t nbytes = 0;
  uint64_t offset = 0;  // relative to the data section

  int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  int64_t n_rows() const { return ne[1] * ne[2] * ne[3]; }
  size_t row_stride() const { return row_bytes(type, ne[0]); }
};

class GgufFile {
 public:
  // Maps and parses a file. Throws slim::Error("gguf: <path>: <problem>") on any defect.
  static std::unique_ptr<GgufFile> open(const std::string& path);
  // Parses an in-memory image (copied); used by the fuzzer and tests. Errors read "gguf: <label>: ...".
  static std::unique_ptr<GgufFile> from_bytes(const uint8_t* data, size_t size, std::string label = "<memory>");
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  uint32_t version() const { return version_; }
  size_t alignment() const { return alignment_; }
  size_t data_offset() const { return data_offset_; }
  size_t file_size() const { return size_; }
  const std::string& path() const { return path_; }

  // Metadata in file order, and by key.
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return kv_; }
  const GgufValue* find(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }

  // Typed getters: throw slim::Error if the key is missing (no default) or has an incompatible type.
  // Integer getters accept any integer width (and bool) and range-check.
  std::string get_string(std::string_view key) const;
  std::string get_string(std::string_view key, const std::string& def) const;
  int64_t get_int(std::string_view key) const;
  int64_t get_int(std::string_view key, int64_t def) const;
  double get_float(std::string_view key) const;  // accepts F32/F64 (and integers)
  double get_float(std::string_view key, double def) const;
  bool get_bool(std::string_view key, bool def) const;
  // Arrays (throws if missing/wrong type). get_int_array also accepts a scalar (returns {value}).
  const std::vector<std::string>& get_string_array(std::string_view key) const;
  std::vector<int64_t> get_int_array(std::string_view key) const;
  std::vector<float> get_float_array(std::string_view key) const;

  const std::vector<TensorView>& tensors() const { return tensors_; }
  const TensorView* find_tensor(std::string_view name) const;
  const TensorView& tensor(std::string_view name) const;  // throws "missing tensor 'x'"

 private:
  GgufFile() = default;
  void parse();
  std::string path_;
  const uint8_t* base_ = nullptr;
  size_t size_ = 0;
  void* mapping_ = nullptr;           // mmap'd region (nullptr when owned_ holds the bytes)
  std::vector<uint8_t> owned_;
  uint32_t version_ = 0;
  size_t alignment_ = 32;
  size_t data_offset_ = 0;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::map<std::string, size_t, std::less<>> kv_index_;
  std::vector<TensorView> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

// Human-readable dump (used by `slim inspect`): header, metadata (long arrays abbreviated), tensor table.
std::string describe(const GgufFile& f, bool show_tensors = true);

}  // namespace slim

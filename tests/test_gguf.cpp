// GGUF reader tests. Images are built in memory by a small writer below (written for these tests),
// so each malformation can be produced exactly; a fixture written by gguf-py's writer cross-checks
// the reader against an independent implementation.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "slim/error.h"
#include "slim/gguf.h"
#include "slim/types.h"

namespace {

using slim::DType;
using slim::GgufFile;
using slim::GgufType;

// ---------------------------------------------------------------------------------------------
// Test-side GGUF writer. Encodes little-endian; every field can be overridden to make bad files.

class Bytes {
 public:
  std::vector<uint8_t> b;
  template <class T>
  Bytes& put(T v) {
    uint8_t tmp[sizeof(T)];
    std::memcpy(tmp, &v, sizeof(T));
    b.insert(b.end(), tmp, tmp + sizeof(T));
    return *this;
  }
  Bytes& str(const std::string& s) {
    put<uint64_t>(s.size());
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Bytes& raw(const std::vector<uint8_t>& v) {
    b.insert(b.end(), v.begin(), v.end());
    return *this;
  }
};

struct TensorSpec {
  std::string name;
  std::vector<uint64_t> ne;
  uint32_t type = 0;
  std::optional<uint64_t> offset;  // default: packed in order with alignment padding
  std::optional<uint32_t> n_dims;  // default: ne.size()
};

// Byte size as the test computes it (own table for the few types used here).
uint64_t test_nbytes(uint32_t type, const std::vector<uint64_t>& ne) {
  uint64_t blk = 1, bb = 4;
  switch (type) {
    case 0: blk = 1; bb = 4; break;      // F32
    case 1: blk = 1; bb = 2; break;      // F16
    case 8: blk = 32; bb = 34; break;    // Q8_0
    case 12: blk = 256; bb = 144; break;  // Q4_K
    default: return 0;
  }
  unsigned __int128 n = ne.empty() ? 0 : (ne[0] / blk) * (unsigned __int128)bb;
  for (size_t d = 1; d < ne.size(); ++d) n *= ne[d];
  return n > (1u << 20) ? 0 : static_cast<uint64_t>(n);  // only small tensors get real data
}

struct GgufBuilder {
  uint32_t magic = 0x46554747;
  uint32_t version = 3;
  std::optional<uint64_t> n_tensors_override, n_kv_override;
  size_t alignment = 32;  // layout only; add a general.alignment key separately to change it in the file
  std::vector<std::pair<std::string, Bytes>> kvs;  // key -> encoded (type + value)
  std::vector<TensorSpec> tensors;

  // Scalars.
  template <class T>
  GgufBuilder& kv(const std::string& key, GgufType t, T v) {
    Bytes e;
    e.put<uint32_t>(static_cast<uint32_t>(t)).put<T>(v);
    kvs.emplace_back(key, e);
    return *this;
  }
  GgufBuilder& kv_str(const std::string& key, const std::string& v) {
    Bytes e;
    e.put<uint32_t>(static_cast<uint32_t>(GgufType::STRING)).str(v);
    kvs.emplace_back(key, e);
    return *this;
  }
  template <class T>
  GgufBuilder& kv_arr(const std::string& key, GgufType et, const std::vector<T>& v) {
    Bytes e;
    e.put<uint32_t>(9).put<uint32_t>(static_cast<uint32_t>(et)).put<uint64_t>(v.size());
    for (const T& x : v) e.put<T>(x);
    kvs.emplace_back(key, e);
    return *this;
  }
  GgufBuilder& kv_str_arr(const std::string& key, const std::vector<std::string>& v) {
    Bytes e;
    e.put<uint32_t>(9).put<uint32_t>(8).put<uint64_t>(v.size());
    for (const auto& s : v) e.str(s);
    kvs.emplace_back(key, e);
    return *this;
  }
  GgufBuilder& kv_raw(const std::string& key, const Bytes& encoded) {
    kvs.emplace_back(key, encoded);
    return *this;
  }
  GgufBuilder& tensor(const std::string& name, std::vector<uint64_t> ne, uint32_t type = 0) {
    tensors.push_back({name, std::move(ne), type, std::nullopt, std::nullopt});
    return *this;
  }

  static uint8_t pattern(size_t i) { return static_cast<uint8_t>(i * 31 + 7); }

  // Data bytes of tensor k at data-relative position p hold pattern(p); the file ends right after
  // the last tensor's bytes (no tail padding), so every strict prefix is a truncated file.
  std::vector<uint8_t> build() const {
    Bytes o;
    o.put<uint32_t>(magic).put<uint32_t>(version);
    o.put<uint64_t>(n_tensors_override.value_or(tensors.size()));
    o.put<uint64_t>(n_kv_override.value_or(kvs.size()));
    for (const auto& [k, e] : kvs) o.str(k).raw(e.b);
    uint64_t next = 0, data_end = 0;
    for (const TensorSpec& t : tensors) {
      o.str(t.name).put<uint32_t>(t.n_dims.value_or(static_cast<uint32_t>(t.ne.size())));
      for (uint64_t x : t.ne) o.put<uint64_t>(x);
      o.put<uint32_t>(t.type);
      const uint64_t nb = test_nbytes(t.type, t.ne);
      const uint64_t off = t.offset.value_or(next);
      o.put<uint64_t>(off);
      next = (off + nb + alignment - 1) / alignment * alignment;
      if (!t.offset) data_end = std::max(data_end, off + nb);  // explicit offsets get no data
    }
    if (!tensors.empty()) {
      while (o.b.size() % alignment) o.put<uint8_t>(0);
    }
    for (uint64_t p = 0; p < data_end; ++p) o.put<uint8_t>(pattern(p));
    return o.b;
  }
};

std::unique_ptr<GgufFile> parse(const std::vector<uint8_t>& img) {
  return GgufFile::from_bytes(img.data(), img.size(), "test.gguf");
}

// Asserts that parsing fails with slim::Error whose message contains every one of `words`.
void expect_error(const std::vector<uint8_t>& img, std::initializer_list<const char*> words) {
  try {
    parse(img);
    ADD_FAILURE() << "expected slim::Error containing '" << *words.begin() << "'";
  } catch (const slim::Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind("gguf: test.gguf: ", 0), 0u) << msg;
    for (const char* w : words) EXPECT_NE(msg.find(w), std::string::npos) << "missing '" << w << "' in: " << msg;
  }
}

GgufBuilder valid_builder() {
  GgufBuilder b;
  b.kv_str("general.architecture", "tiny").kv("tiny.block_count", GgufType::U32, uint32_t{2});
  b.kv_str_arr("tokenizer.ggml.tokens", {"<pad>", "a", "bc"});
  b.tensor("a.weight", {4, 2}, 0).tensor("b.weight", {64, 3}, 8).tensor("c.weight", {5}, 1);
  return b;
}

std::string write_temp(const std::vector<uint8_t>& img, const std::string& name) {
  const std::string path = ::testing::TempDir() + "/slim_gguf_" + name;
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(img.data()), static_cast<std::streamsize>(img.size()));
  return path;
}

// ---------------------------------------------------------------------------------------------
// Valid files

TEST(Gguf, AllValueTypesRoundTrip) {
  GgufBuilder b;
  b.kv("v.u8", GgufType::U8, uint8_t{250})
      .kv("v.i8", GgufType::I8, int8_t{-120})
      .kv("v.u16", GgufType::U16, uint16_t{65535})
      .kv("v.i16", GgufType::I16, int16_t{-32768})
      .kv("v.u32", GgufType::U32, uint32_t{4000000000u})
      .kv("v.i32", GgufType::I32, int32_t{-2000000000})
      .kv("v.f32", GgufType::F32, 1.5f)
      .kv("v.bool_t", GgufType::BOOL, uint8_t{1})
      .kv("v.bool_f", GgufType::BOOL, uint8_t{0})
      .kv_str("v.str", std::string("h\xC3\xA9llo\0x", 8))
      .kv_str("v.empty", "")
      .kv("v.u64", GgufType::U64, std::numeric_limits<uint64_t>::max())
      .kv("v.u64_small", GgufType::U64, uint64_t{1234567890123ull})
      .kv("v.i64", GgufType::I64, std::numeric_limits<int64_t>::min())
      .kv("v.f64", GgufType::F64, 3.141592653589793)
      .kv_arr<uint8_t>("a.u8", GgufType::U8, {0, 255})
      .kv_arr<int8_t>("a.i8", GgufType::I8, {-128, 127})
      .kv_arr<uint16_t>("a.u16", GgufType::U16, {1, 65535})
      .kv_arr<int16_t>("a.i16", GgufType::I16, {-5, 5})
      .kv_arr<uint32_t>("a.u32", GgufType::U32, {7, 4000000000u})
      .kv_arr<int32_t>("a.i32", GgufType::I32, {-1, 2, -3})
      .kv_arr<float>("a.f32", GgufType::F32, {0.25f, -1000.f})
      .kv_arr<uint8_t>("a.bool", GgufType::BOOL, {1, 0, 1})
      .kv_arr<uint64_t>("a.u64", GgufType::U64, {9, 1ull << 40})
      .kv_arr<uint64_t>("a.u64_huge", GgufType::U64, {1, std::numeric_limits<uint64_t>::max()})
      .kv_arr<int64_t>("a.i64", GgufType::I64, {std::numeric_limits<int64_t>::min(), 0})
      .kv_arr<double>("a.f64", GgufType::F64, {1e300, -2.5})
      .kv_arr<uint32_t>("a.empty", GgufType::U32, {})
      .kv_str_arr("a.str", {"x", "", "yz\n"});
  auto f = parse(b.build());

  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->metadata().size(), b.kvs.size());
  for (size_t k = 0; k < b.kvs.size(); ++k) EXPECT_EQ(f->metadata()[k].first, b.kvs[k].first);  // file order
  EXPECT_TRUE(f->tensors().empty());

  EXPECT_EQ(f->find("v.u8")->type, GgufType::U8);
  EXPECT_EQ(f->get_int("v.u8"), 250);
  EXPECT_EQ(f->get_int("v.i8"), -120);
  EXPECT_EQ(f->get_int("v.u16"), 65535);
  EXPECT_EQ(f->get_int("v.i16"), -32768);
  EXPECT_EQ(f->get_int("v.u32"), 4000000000ll);
  EXPECT_EQ(f->get_int("v.i32"), -2000000000);
  EXPECT_EQ(f->find("v.f32")->type, GgufType::F32);
  EXPECT_EQ(f->get_float("v.f32"), 1.5);
  EXPECT_TRUE(f->get_bool("v.bool_t", false));
  EXPECT_FALSE(f->get_bool("v.bool_f", true));
  EXPECT_EQ(f->get_int("v.bool_t"), 1);  // integers accept bool
  EXPECT_EQ(f->get_string("v.str"), std::string("h\xC3\xA9llo\0x", 8));
  EXPECT_EQ(f->get_string("v.empty"), "");
  EXPECT_EQ(f->find("v.u64")->u, std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(f->get_int("v.u64_small"), 1234567890123ll);
  EXPECT_EQ(f->get_int("v.i64"), std::numeric_limits<int64_t>::min());
  EXPECT_DOUBLE_EQ(f->get_float("v.f64"), 3.141592653589793);
  EXPECT_DOUBLE_EQ(f->get_float("v.u32"), 4e9);  // floats accept integers

  EXPECT_EQ(f->get_int_array("a.u8"), (std::vector<int64_t>{0, 255}));
  EXPECT_EQ(f->get_int_array("a.i8"), (std::vector<int64_t>{-128, 127}));
  EXPECT_EQ(f->get_int_array("a.u16"), (std::vector<int64_t>{1, 65535}));
  EXPECT_EQ(f->get_int_array("a.i16"), (std::vector<int64_t>{-5, 5}));
  EXPECT_EQ(f->get_int_array("a.u32"), (std::vector<int64_t>{7, 4000000000ll}));
  EXPECT_EQ(f->get_int_array("a.i32"), (std::vector<int64_t>{-1, 2, -3}));
  EXPECT_EQ(f->get_float_array("a.f32"), (std::vector<float>{0.25f, -1000.f}));
  EXPECT_EQ(f->get_int_array("a.bool"), (std::vector<int64_t>{1, 0, 1}));
  EXPECT_EQ(f->get_int_array("a.u64"), (std::vector<int64_t>{9, 1ll << 40}));
  EXPECT_EQ(f->get_int_array("a.i64"), (std::vector<int64_t>{std::numeric_limits<int64_t>::min(), 0}));
  EXPECT_EQ(f->find("a.f64")->floats, (std::vector<double>{1e300, -2.5}));
  EXPECT_EQ(f->get_float_array("a.i32"), (std::vector<float>{-1.f, 2.f, -3.f}));
  EXPECT_TRUE(f->get_int_array("a.empty").empty());
  EXPECT_EQ(f->find("a.empty")->elem_type, GgufType::U32);
  EXPECT_EQ(f->get_string_array("a.str"), (std::vector<std::string>{"x", "", "yz\n"}));

  const slim::GgufValue* arr = f->find("a.i32");
  ASSERT_NE(arr, nullptr);
  EXPECT_TRUE(arr->is_array());
  EXPECT_EQ(arr->elem_type, GgufType::I32);
  EXPECT_EQ(arr->array_size(), 3u);
  EXPECT_EQ(f->find("a.str")->array_size(), 3u);
  EXPECT_EQ(f->find("a.f32")->array_size(), 2u);
  EXPECT_EQ(f->find("v.u8")->array_size(), 0u);
}

TEST(Gguf, GettersCheckTypesRangesAndDefaults) {
  GgufBuilder b;
  b.kv("u64max", GgufType::U64, std::numeric_limits<uint64_t>::max())
      .kv_str("s", "text")
      .kv("i", GgufType::I32, int32_t{-3})
      .kv("f", GgufType::F32, 0.5f)
      .kv_arr<uint64_t>("a.u64_huge", GgufType::U64, {1, std::numeric_limits<uint64_t>::max()})
      .kv_arr<float>("a.f32", GgufType::F32, {1.f})
      .kv_str_arr("a.str", {"x"});
  auto f = parse(b.build());

  auto msg_of = [](auto&& fn) -> std::string {
    try {
      fn();
    } catch (const slim::Error& e) {
      return e.what();
    }
    return "<no error>";
  };
  EXPECT_NE(msg_of([&] { f->get_int("u64max"); }).find("out of range"), std::string::npos);
  EXPECT_NE(msg_of([&] { f->get_int("s"); }).find("key 's': expected an integer, got string"), std::string::npos);
  EXPECT_NE(msg_of([&] { f->get_int("f"); }).find("expected an integer"), std::string::npos);
  EXPECT_NE(msg_of([&] { f->get_string("i"); }).find("expected a string, got i32"), std::string::npos);
  EXPECT_NE(msg_of([&] { f->get_int("nope"); }).find("gguf: test.gguf: missing key 'nope'"), std::string::npos);
  EXPECT_NE(msg_of([&] { f->get_string("nope"); }).find("missing key"), std::string::npos);
  EXPECT_NE(msg_of([&] { f->get_float("s"); }).find("expected a number"), std::string::npos);
  EXPECT_NE(msg_of([&] { f->get_bool("s", false); }).find("expected a bool"), std::string::npos);
  EXPECT_NE(msg_of([&] { f->get_string_array("a.f32"); }).find("expected an array of string, got array of f32"),
            std::string::npos);
  EXPECT_NE(msg_of([&] { f->get_int_array("a.f32"); }).find("expected an array of integers"), std::string::npos);
  EXPECT_NE(msg_of([&] { f->get_int_array("a.u64_huge"); }).find("element 1"), std::string::npos);
  EXPECT_NE(msg_of([&] { f->get_float_array("a.str"); }).find("expected an array of numbers"), std::string::npos);
  EXPECT_NE(msg_of([&] { f->tensor("x.weight"); }).find("missing tensor 'x.weight'"), std::string::npos);

  // Defaults apply only when the key is absent; a present key of the wrong type still throws.
  EXPECT_EQ(f->get_int("nope", 42), 42);
  EXPECT_EQ(f->get_int("i", 42), -3);
  EXPECT_THROW(f->get_int("s", 42), slim::Error);
  EXPECT_EQ(f->get_string("nope", "d"), "d");
  EXPECT_EQ(f->get_string("s", "d"), "text");
  EXPECT_DOUBLE_EQ(f->get_float("nope", 2.0), 2.0);
  EXPECT_DOUBLE_EQ(f->get_float("f", 2.0), 0.5);
  EXPECT_TRUE(f->get_bool("nope", true));
  EXPECT_EQ(f->get_int_array("i"), (std::vector<int64_t>{-3}));  // scalar accepted
  EXPECT_FALSE(f->has("nope"));
  EXPECT_TRUE(f->has("s"));
}

TEST(Gguf, TensorsAreZeroCopyViewsIntoTheMapping) {
  GgufBuilder b = valid_builder();
  const std::vector<uint8_t> img = b.build();
  const std::string path = write_temp(img, "tensors.gguf");
  auto f = GgufFile::open(path);
  EXPECT_EQ(f->path(), path);
  EXPECT_EQ(f->file_size(), img.size());
  EXPECT_EQ(f->alignment(), 32u);
  EXPECT_EQ(f->data_offset() % 32, 0u);
  ASSERT_EQ(f->tensors().size(), 3u);

  const slim::TensorView& a = f->tensor("a.weight");
  EXPECT_EQ(a.type, DType::F32);
  EXPECT_EQ(a.n_dims, 2);
  EXPECT_EQ(a.ne[0], 4);
  EXPECT_EQ(a.ne[1], 2);
  EXPECT_EQ(a.ne[2], 1);
  EXPECT_EQ(a.ne[3], 1);
  EXPECT_EQ(a.nbytes, 32u);
  EXPECT_EQ(a.offset, 0u);
  const slim::TensorView& q = f->tensor("b.weight");
  EXPECT_EQ(q.type, DType::Q8_0);
  EXPECT_EQ(q.nbytes, 2u * 34u * 3u);
  EXPECT_EQ(q.offset, 32u);
  EXPECT_EQ(q.n_rows(), 3);
  EXPECT_EQ(q.n_elements(), 192);
  const slim::TensorView& c = f->tensor("c.weight");
  EXPECT_EQ(c.type, DType::F16);
  EXPECT_EQ(c.nbytes, 10u);
  EXPECT_EQ(c.offset, 32u + 224u);  // 204 bytes padded to 224
  EXPECT_EQ(f->find_tensor("nope"), nullptr);
  EXPECT_EQ(f->find_tensor("c.weight"), &c);

  // Views point into the page-aligned mapping at data_offset + offset, and see the file's bytes.
  for (const slim::TensorView& t : f->tensors()) {
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data) % 32, 0u) << t.name;
    EXPECT_EQ(t.data, f->tensors()[0].data + t.offset) << t.name;
    for (size_t i = 0; i < t.nbytes; ++i) ASSERT_EQ(t.data[i], GgufBuilder::pattern(t.offset + i)) << t.name;
  }
  std::filesystem::remove(path);
}

TEST(Gguf, CustomAlignmentAndVersion2) {
  GgufBuilder b = valid_builder();
  b.version = 2;
  b.alignment = 64;
  b.kv("general.alignment", GgufType::U32, uint32_t{64});
  auto f = parse(b.build());
  EXPECT_EQ(f->version(), 2u);
  EXPECT_EQ(f->alignment(), 64u);
  EXPECT_EQ(f->data_offset() % 64, 0u);
  EXPECT_EQ(f->tensor("b.weight").offset, 64u);
  EXPECT_EQ(f->tensor("c.weight").offset, 64u + 256u);
}

TEST(Gguf, EmptyFileWithoutTensorsOrMetadata) {
  auto f = parse(GgufBuilder{}.build());
  EXPECT_EQ(f->data_offset(), 24u);
  EXPECT_TRUE(f->metadata().empty());
  EXPECT_TRUE(f->tensors().empty());
}

TEST(Gguf, KnownButUnsupportedTypeStillParses) {
  // The loader, not the reader, decides about types without kernels.
  std::optional<uint32_t> id;
  for (uint32_t t = 0; t < 64 && !id; ++t) {
    const slim::DTypeInfo* i = slim::dtype_info(t);
    if (i && !i->supported) id = t;
  }
  if (!id) GTEST_SKIP() << "dtype table has no known-but-unsupported type";
  const slim::DTypeInfo& info = *slim::dtype_info(*id);
  GgufBuilder b;
  b.tensors.push_back({"u.weight", {static_cast<uint64_t>(info.block_elems), 2}, *id, 0, std::nullopt});
  std::vector<uint8_t> img = b.build();
  img.resize(img.size() + 2 * info.block_bytes, 0);
  auto f = parse(img);
  EXPECT_EQ(static_cast<uint32_t>(f->tensor("u.weight").type), *id);
  EXPECT_EQ(f->tensor("u.weight").nbytes, 2 * info.block_bytes);
}

// ---------------------------------------------------------------------------------------------
// Malformed files

TEST(GgufBad, Magic) {
  GgufBuilder b;
  b.magic = 0x46554746;
  expect_error(b.build(), {"bad magic"});
  expect_error({}, {"too small"});
  expect_error({'G', 'G'}, {"too small"});
}

TEST(GgufBad, Versions) {
  for (uint32_t v : {0u, 1u, 4u, 1000u}) {
    GgufBuilder b;
    b.version = v;
    expect_error(b.build(), {"version"});
  }
  GgufBuilder v1;
  v1.version = 1;
  expect_error(v1.build(), {"version 1"});
  GgufBuilder be;
  be.version = 0x03000000;  // 3, byte-swapped
  expect_error(be.build(), {"big-endian GGUF not supported"});
}

TEST(GgufBad, EveryTruncatedPrefixIsAnError) {
  const std::vector<uint8_t> img = valid_builder().build();
  ASSERT_NO_THROW(parse(img));
  for (size_t n = 0; n < img.size(); ++n) {
    std::vector<uint8_t> prefix(img.begin(), img.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_THROW(parse(prefix), slim::Error) << "prefix length " << n;
  }
}

TEST(GgufBad, TensorDataOutOfRange) {
  GgufBuilder b = valid_builder();
  b.tensors[2].offset = 4096;  // aligned, but past the end of the file
  expect_error(b.build(), {"tensor 'c.weight'", "out of range"});
  GgufBuilder c = valid_builder();
  c.tensors[0].offset = 0xFFFFFFFFFFFFFFE0ull;  // offset + nbytes would wrap
  expect_error(c.build(), {"tensor 'a.weight'", "out of range"});
}

TEST(GgufBad, OverflowingDimensions) {
  GgufBuilder b;
  b.tensor("big", {1ull << 32, 1ull << 32, 1ull << 32}, 0);
  expect_error(b.build(), {"tensor 'big'", "element count overflows"});
  GgufBuilder neg;
  neg.tensor("neg", {4, 0x8000000000000000ull}, 0);
  expect_error(neg.build(), {"tensor 'neg'", "negative"});
  // Largest representable Q8_0 tensor: its byte size fits in u64 but not in the file.
  GgufBuilder q8;
  q8.tensor("q", {1ull << 62}, 8);
  expect_error(q8.build(), {"tensor 'q'", "out of range"});
  // Element count fits in int64 but the byte size (4 * 2^62) does not fit in u64.
  GgufBuilder f32;
  f32.tensor("f", {1ull << 62}, 0);
  expect_error(f32.build(), {"tensor 'f'", "byte size overflows"});
}

TEST(GgufBad, NDims) {
  for (uint32_t nd : {0u, 5u, 0xFFFFFFFFu}) {
    GgufBuilder b;
    b.tensor("t", {4}, 0);
    b.tensors[0].n_dims = nd;
    expect_error(b.build(), {"tensor 't'", "n_dims"});
  }
}

TEST(GgufBad, UnknownTensorType) {
  GgufBuilder b;
  b.tensor("t", {32}, 9999);
  expect_error(b.build(), {"tensor 't'", "unknown tensor type id 9999"});
}

TEST(GgufBad, RowNotMultipleOfBlock) {
  GgufBuilder b;
  b.tensor("q", {33, 2}, 8);
  expect_error(b.build(), {"tensor 'q'", "not a multiple", "block size 32"});
}

TEST(GgufBad, DuplicateKeyAndTensorName) {
  GgufBuilder b;
  b.kv("k", GgufType::U32, uint32_t{1}).kv("k", GgufType::U32, uint32_t{2});
  expect_error(b.build(), {"key 'k'", "duplicate key"});
  GgufBuilder t;
  t.tensor("w", {4}, 0).tensor("w", {4}, 0);
  expect_error(t.build(), {"tensor 'w'", "duplicate tensor name"});
}

TEST(GgufBad, Alignment) {
  for (uint32_t a : {0u, 3u, 48u}) {
    GgufBuilder b = valid_builder();
    b.kv("general.alignment", GgufType::U32, a);
    expect_error(b.build(), {"general.alignment", "power of two"});
  }
  GgufBuilder wrong_type = valid_builder();
  wrong_type.kv("general.alignment", GgufType::U64, uint64_t{32});
  expect_error(wrong_type.build(), {"general.alignment", "must be u32, got u64"});
}

TEST(GgufBad, MisalignedOffset) {
  GgufBuilder b = valid_builder();
  b.tensors[1].offset = 40;
  expect_error(b.build(), {"tensor 'b.weight'", "offset 40", "alignment 32"});
}

TEST(GgufBad, HugeCountsDoNotAllocate) {
  // Each of these claims ~2^60 items in a file of a few dozen bytes; the reader must refuse
  // before reserving memory (ASan/the fuzzer would flag a 2^60 allocation).
  Bytes u8arr;
  u8arr.put<uint32_t>(9).put<uint32_t>(0).put<uint64_t>(1ull << 60);
  expect_error(GgufBuilder{}.kv_raw("a", u8arr).build(), {"key 'a'", "array of 1152921504606846976"});
  Bytes strarr;
  strarr.put<uint32_t>(9).put<uint32_t>(8).put<uint64_t>(1ull << 60);
  expect_error(GgufBuilder{}.kv_raw("a", strarr).build(), {"key 'a'", "exceeds"});
  Bytes longstr;
  longstr.put<uint32_t>(8).put<uint64_t>(1ull << 60);
  expect_error(GgufBuilder{}.kv_raw("s", longstr).build(), {"key 's'", "string length"});
  GgufBuilder nkv;
  nkv.n_kv_override = 1ull << 60;
  expect_error(nkv.build(), {"metadata count"});
  GgufBuilder nt;
  nt.n_tensors_override = ~0ull;
  expect_error(nt.build(), {"tensor count"});
  // A huge key length.
  Bytes hdr;
  hdr.put<uint32_t>(0x46554747).put<uint32_t>(3).put<uint64_t>(0).put<uint64_t>(1).put<uint64_t>(~0ull);
  hdr.put<uint32_t>(4).put<uint32_t>(0);
  expect_error(hdr.b, {"string length"});
}

TEST(GgufBad, ValueEncodings) {
  Bytes nested;
  nested.put<uint32_t>(9).put<uint32_t>(9).put<uint64_t>(1);
  expect_error(GgufBuilder{}.kv_raw("n", nested).build(), {"key 'n'", "nested arrays"});
  expect_error(GgufBuilder{}.kv("b", GgufType::BOOL, uint8_t{2}).build(), {"key 'b'", "not 0 or 1"});
  expect_error(GgufBuilder{}.kv_arr<uint8_t>("ba", GgufType::BOOL, {1, 0, 7}).build(), {"key 'ba'", "not 0 or 1"});
  Bytes badtype;
  badtype.put<uint32_t>(13).put<uint32_t>(0);
  expect_error(GgufBuilder{}.kv_raw("t", badtype).build(), {"key 't'", "unknown value type 13"});
  Bytes badelem;
  badelem.put<uint32_t>(9).put<uint32_t>(77).put<uint64_t>(0);
  expect_error(GgufBuilder{}.kv_raw("e", badelem).build(), {"key 'e'", "unknown array element type 77"});
}

TEST(GgufBad, ErrorsFromOpen) {
  EXPECT_THROW(GgufFile::open("/nonexistent/slim.gguf"), slim::Error);
  try {
    GgufFile::open(::testing::TempDir());
    ADD_FAILURE() << "opening a directory must fail";
  } catch (const slim::Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos) << e.what();
  }
  const std::string empty = write_temp({}, "empty.gguf");
  EXPECT_THROW(GgufFile::open(empty), slim::Error);
  std::filesystem::remove(empty);
}

// ---------------------------------------------------------------------------------------------
// describe()

TEST(Gguf, DescribeListsHeaderMetadataTensorsAndSummary) {
  GgufBuilder b = valid_builder();
  b.kv_str("long", std::string(500, 'x'));
  b.kv_arr<int32_t>("many", GgufType::I32, std::vector<int32_t>(100, 7));
  auto f = parse(b.build());
  const std::string d = slim::describe(*f);
  for (const char* want : {"GGUF v3", "tensors: 3", "metadata keys: 5", "alignment: 32",
                           "data offset: " , "file size: ", "general.architecture", "\"tiny\"",
                           "[string x 3] \"<pad>\", \"a\", \"bc\"", "[i32 x 100] 7, 7, 7, 7, 7, 7, ...",
                           "(500 bytes)", "a.weight", "Q8_0", "[64, 3]", "204", "total", "3 tensors"}) {
    EXPECT_NE(d.find(want), std::string::npos) << "missing '" << want << "' in:\n" << d;
  }
  EXPECT_EQ(d.find(std::string(100, 'x')), std::string::npos) << "long string not truncated";
  EXPECT_NE(d.find("data offset: " + std::to_string(f->data_offset())), std::string::npos);
  const std::string no_tensors = slim::describe(*f, false);
  EXPECT_EQ(no_tensors.find("a.weight"), std::string::npos);
  EXPECT_NE(no_tensors.find("total"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Files written by other implementations

TEST(GgufFixture, WrittenByGgufPy) {
  // tests/fixtures/gguf/make_fixtures.py (gguf-py's GGUFWriter).
  auto f = GgufFile::open(SLIM_SOURCE_DIR "/tests/fixtures/gguf/tiny.gguf");
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->get_string("general.architecture"), "tiny");
  EXPECT_EQ(f->get_int("tiny.block_count"), 2);
  EXPECT_EQ(f->get_int("tiny.neg"), -7);
  EXPECT_EQ(f->get_int("tiny.big"), (1ll << 40) + 3);
  EXPECT_FLOAT_EQ(static_cast<float>(f->get_float("tiny.eps")), 1e-6f);
  EXPECT_DOUBLE_EQ(f->get_float("tiny.pi"), 3.141592653589793);
  EXPECT_TRUE(f->get_bool("tiny.flag", false));
  EXPECT_EQ(f->get_string("tiny.greeting"), "h\xC3\xA9llo");
  EXPECT_EQ(f->get_string_array("tiny.tokens"), (std::vector<std::string>{"<pad>", "a", "bc"}));
  EXPECT_EQ(f->get_int_array("tiny.ids"), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(f->get_float_array("tiny.scores"), (std::vector<float>{0.5f, -1.25f}));

  const slim::TensorView& w = f->tensor("w.f32");
  EXPECT_EQ(w.type, DType::F32);
  EXPECT_EQ(w.ne[0], 4);
  EXPECT_EQ(w.ne[1], 2);
  const float* x = reinterpret_cast<const float*>(w.data);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(x[i], static_cast<float>(i));
  const slim::TensorView& q = f->tensor("w.q8");
  EXPECT_EQ(q.type, DType::Q8_0);
  EXPECT_EQ(q.ne[0], 32);
  EXPECT_EQ(q.nbytes, 34u);
  EXPECT_EQ(q.data[0], 0x00);  // f16 1.0 = 0x3C00, little-endian
  EXPECT_EQ(q.data[1], 0x3C);
  EXPECT_EQ(q.data[2 + 31], 31);

  try {
    GgufFile::open(SLIM_SOURCE_DIR "/tests/fixtures/gguf/tiny_be.gguf");
    ADD_FAILURE() << "big-endian file accepted";
  } catch (const slim::Error& e) {
    EXPECT_NE(std::string(e.what()).find("big-endian GGUF not supported"), std::string::npos) << e.what();
  }
}

TEST(GgufModel, Gemma3_270m) {
  const std::string path = SLIM_SOURCE_DIR "/models/gemma-3-270m-q4_k_m.gguf";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "model not found: " << path << " (run tools/setup.sh)";
  auto f = GgufFile::open(path);
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->tensors().size(), 236u);
  EXPECT_EQ(f->get_string("general.architecture"), "gemma3");
  EXPECT_EQ(f->get_int("gemma3.block_count"), 18);
  EXPECT_EQ(f->get_int("gemma3.embedding_length"), 640);
  EXPECT_EQ(f->get_string_array("tokenizer.ggml.tokens").size(), 262144u);
  EXPECT_EQ(f->get_string_array("tokenizer.ggml.tokens")[2], "<bos>");
  EXPECT_EQ(f->get_float_array("tokenizer.ggml.scores").size(), 262144u);
  EXPECT_TRUE(f->get_bool("tokenizer.ggml.add_bos_token", false));
  EXPECT_NEAR(f->get_float("gemma3.attention.layer_norm_rms_epsilon"), 1e-6, 1e-12);
  EXPECT_EQ(f->data_offset(), 6525120u);  // as gguf-py's GGUFReader reports for this file
  EXPECT_EQ(f->tensor("output_norm.weight").offset, 0u);
  const slim::TensorView& e = f->tensor("token_embd.weight");
  EXPECT_EQ(e.type, DType::Q8_0);
  EXPECT_EQ(e.n_dims, 2);
  EXPECT_EQ(e.ne[0], 640);
  EXPECT_EQ(e.ne[1], 262144);
  EXPECT_EQ(e.nbytes, 640u / 32u * 34u * 262144u);
  EXPECT_EQ(e.row_stride(), 640u / 32u * 34u);
  EXPECT_EQ(f->tensor("output_norm.weight").type, DType::F32);
  EXPECT_EQ(f->tensor("blk.0.attn_k.weight").type, DType::Q5_0);
  const std::string d = slim::describe(*f);
  EXPECT_NE(d.find("total      236 tensors"), std::string::npos) << d.substr(d.rfind("summary"));
}

TEST(GgufModel, SmolLM2_135m) {
  const std::string path = SLIM_SOURCE_DIR "/models/smollm2-135m-instruct-q4_1.gguf";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "model not found: " << path << " (run tools/setup.sh)";
  auto f = GgufFile::open(path);
  EXPECT_EQ(f->get_string("general.architecture"), "llama");
  EXPECT_EQ(f->get_string_array("tokenizer.ggml.tokens").size(), 49152u);
  EXPECT_EQ(f->get_string("tokenizer.ggml.pre"), "smollm");
  EXPECT_EQ(f->tensor("token_embd.weight").type, DType::Q8_0);
}

}  // namespace

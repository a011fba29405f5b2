// GGUF reader: byte layout per engine-reference §1. The file is treated as hostile input: every
// length and count is checked against the bytes that remain before anything is allocated, every
// product is overflow-checked, and nothing outside [base_, base_ + size_) is ever read.
#include "slim/gguf.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <limits>

namespace slim {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr uint32_t kMaxValueType = 12;   // GgufType::F64
constexpr int kMaxDims = 4;

// Smallest possible encodings, used to bound counts before reserving memory.
constexpr size_t kMinKvBytes = 8 + 4 + 1;              // key length, value type, 1-byte value
constexpr size_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;  // name length, n_dims, ne[0], type, offset

const char* type_name(GgufType t) {
  switch (t) {
    case GgufType::U8: return "u8";
    case GgufType::I8: return "i8";
    case GgufType::U16: return "u16";
    case GgufType::I16: return "i16";
    case GgufType::U32: return "u32";
    case GgufType::I32: return "i32";
    case GgufType::F32: return "f32";
    case GgufType::BOOL: return "bool";
    case GgufType::STRING: return "string";
    case GgufType::ARRAY: return "array";
    case GgufType::U64: return "u64";
    case GgufType::I64: return "i64";
    case GgufType::F64: return "f64";
  }
  return "?";
}

std::string value_type_name(const GgufValue& v) {
  if (!v.is_array()) return type_name(v.type);
  return std::string("array of ") + type_name(v.elem_type);
}

// Encoded size of a fixed-size value type; 0 for STRING and ARRAY.
size_t scalar_size(GgufType t) {
  switch (t) {
    case GgufType::U8: case GgufType::I8: case GgufType::BOOL: return 1;
    case GgufType::U16: case GgufType::I16: return 2;
    case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
    case GgufType::U64: case GgufType::I64: case GgufType::F64: return 8;
    default: return 0;
  }
}

bool is_integer(GgufType t) {
  switch (t) {
    case GgufType::U8: case GgufType::I8: case GgufType::U16: case GgufType::I16: case GgufType::U32:
    case GgufType::I32: case GgufType::U64: case GgufType::I64: case GgufType::BOOL:
      return true;
    default:
      return false;
  }
}

bool is_float(GgufType t) { return t == GgufType::F32 || t == GgufType::F64; }

// Untrusted text made safe to print: control bytes escaped, long text cut (at a UTF-8 boundary).
std::string printable(std::string_view s, size_t max_len = 64) {
  std::string out;
  bool cut = false;
  for (unsigned char c : s) {
    if (out.size() >= max_len) { cut = true; break; }
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (cut) {
    // Drop a partial multi-byte sequence left at the cut.
    while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) out.pop_back();
    if (!out.empty() && static_cast<unsigned char>(out.back()) >= 0xC0) out.pop_back();
    out += "...";
  }
  return out;
}

std::string quoted(std::string_view s) { return "'" + printable(s) + "'"; }

// Bounds-checked little-endian cursor over the image. `ctx` names what is being parsed so that
// errors read "gguf: <label>: tensor 'x': <problem>".
class Reader {
 public:
  Reader(const uint8_t* p, size_t n, const std::string& label) : p_(p), n_(n), label_(label) {}

  size_t pos() const { return pos_; }
  size_t remaining() const { return n_ - pos_; }
  void set_context(std::string ctx) { ctx_ = std::move(ctx); }

  [[noreturn]] void fail(const std::string& what) const {
    throw Error("gguf: " + label_ + ": " + (ctx_.empty() ? "" : ctx_ + ": ") + what);
  }

  void need(size_t n, const char* what) const {
    if (n > remaining()) {
      fail(std::string("truncated file: ") + what + " needs " + std::to_string(n) + " bytes at offset " +
           std::to_string(pos_) + ", only " + std::to_string(remaining()) + " left");
    }
  }

  template <class T>
  T read(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, p_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string read_string(const char* what) {
    const uint64_t len = read<uint64_t>(what);
    if (len > remaining()) {
      fail(std::string(what) + ": string length " + std::to_string(len) + " exceeds the " +
           std::to_string(remaining()) + " bytes left in the file");
    }
    std::string s(reinterpret_cast<const char*>(p_ + pos_), static_cast<size_t>(len));
    pos_ += static_cast<size_t>(len);
    return s;
  }

 private:
  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
  const std::string& label_;
  std::string ctx_;
};

// Reads one integer/bool of type t, widened. Bools must be 0 or 1.
void read_integer(Reader& r, GgufType t, int64_t& i, uint64_t& u) {
  switch (t) {
    case GgufType::U8: u = r.read<uint8_t>("u8 value"); i = static_cast<int64_t>(u); return;
    case GgufType::U16: u = r.read<uint16_t>("u16 value"); i = static_cast<int64_t>(u); return;
    case GgufType::U32: u = r.read<uint32_t>("u32 value"); i = static_cast<int64_t>(u); return;
    // Values above INT64_MAX wrap in i; getters look at u for U64 and range-check.
    case GgufType::U64: u = r.read<uint64_t>("u64 value"); i = static_cast<int64_t>(u); return;
    case GgufType::I8: i = r.read<int8_t>("i8 value"); break;
    case GgufType::I16: i = r.read<int16_t>("i16 value"); break;
    case GgufType::I32: i = r.read<int32_t>("i32 value"); break;
    case GgufType::I64: i = r.read<int64_t>("i64 value"); break;
    case GgufType::BOOL: {
      const uint8_t b = r.read<uint8_t>("bool value");
      if (b > 1) r.fail("bool value " + std::to_string(b) + " is not 0 or 1");
      i = b;
      break;
    }
    default: r.fail("internal: not an integer type");
  }
  u = static_cast<uint64_t>(i);
}

double read_floating(Reader& r, GgufType t) {
  if (t == GgufType::F32) return r.read<float>("f32 value");
  return r.read<double>("f64 value");
}

GgufType read_type(Reader& r, const char* what) {
  const uint32_t t = r.read<uint32_t>(what);
  if (t > kMaxValueType) r.fail(std::string("unknown ") + what + " " + std::to_string(t));
  return static_cast<GgufType>(t);
}

GgufValue read_value(Reader& r) {
  GgufValue v;
  v.type = read_type(r, "value type");
  if (v.type == GgufType::STRING) {
    v.s = r.read_string("string value");
  } else if (is_float(v.type)) {
    v.f = read_floating(r, v.type);
  } else if (v.type != GgufType::ARRAY) {
    read_integer(r, v.type, v.i, v.u);
  } else {
    v.elem_type = read_type(r, "array element type");
    // ggml's reader rejects nested arrays; no real file has them.
    if (v.elem_type == GgufType::ARRAY) r.fail("nested arrays are not supported");
    const uint64_t n = r.read<uint64_t>("array length");
    const size_t min_elem = v.elem_type == GgufType::STRING ? 8 : scalar_size(v.elem_type);
    // Bound the count by the bytes left before any allocation (a count of 2^60 must fail here).
    if (n > r.remaining() / min_elem) {
      r.fail("array of " + std::to_string(n) + " " + type_name(v.elem_type) + " elements exceeds the " +
             std::to_string(r.remaining()) + " bytes left in the file");
    }
    const size_t count = static_cast<size_t>(n);
    if (v.elem_type == GgufType::STRING) {
      v.strs.reserve(count);
      for (size_t k = 0; k < count; ++k) v.strs.push_back(r.read_string("array string"));
    } else if (is_float(v.elem_type)) {
      v.floats.resize(count);
      for (size_t k = 0; k < count; ++k) v.floats[k] = read_floating(r, v.elem_type);
    } else {
      v.ints.resize(count);
      uint64_t u;
      for (size_t k = 0; k < count; ++k) read_integer(r, v.elem_type, v.ints[k], u);
    }
  }
  return v;
}

std::string shape_string(const TensorView& t) {
  std::string s = "[";
  for (int d = 0; d < t.n_dims; ++d) {
    if (d) s += ", ";
    s += std::to_string(t.ne[d]);
  }
  return s + "]";
}

[[noreturn]] void key_error(const GgufFile& f, std::string_view key, const std::string& what) {
  throw Error("gguf: " + f.path() + ": key " + quoted(key) + ": " + what);
}

const GgufValue& require(const GgufFile& f, std::string_view key) {
  const GgufValue* v = f.find(key);
  if (!v) throw Error("gguf: " + f.path() + ": missing key " + quoted(key));
  return *v;
}

int64_t int_of(const GgufFile& f, std::string_view key, const GgufValue& v) {
  if (v.is_array() || !is_integer(v.type)) key_error(f, key, "expected an integer, got " + value_type_name(v));
  if (v.type == GgufType::U64 && v.u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    key_error(f, key, "value " + std::to_string(v.u) + " out of range for int64");
  }
  return v.i;
}

double float_of(const GgufFile& f, std::string_view key, const GgufValue& v) {
  if (!v.is_array() && is_float(v.type)) return v.f;
  if (!v.is_array() && v.type == GgufType::U64) return static_cast<double>(v.u);
  if (!v.is_array() && is_integer(v.type)) return static_cast<double>(v.i);
  key_error(f, key, "expected a number, got " + value_type_name(v));
}

std::string human_bytes(uint64_t n) {
  char buf[64];
  if (n >= (1ull << 30)) std::snprintf(buf, sizeof buf, "%.2f GiB", n / double(1ull << 30));
  else if (n >= (1ull << 20)) std::snprintf(buf, sizeof buf, "%.2f MiB", n / double(1ull << 20));
  else if (n >= (1ull << 10)) std::snprintf(buf, sizeof buf, "%.2f KiB", n / double(1ull << 10));
  else std::snprintf(buf, sizeof buf, "%" PRIu64 " B", n);
  return buf;
}

// Shortest text that round-trips in the value's own precision (1e-06, not 9.99999997e-07).
std::string fmt_number(double x, GgufType t) {
  char buf[64];
  const auto r = t == GgufType::F32 ? std::to_chars(buf, buf + sizeof buf, static_cast<float>(x))
                                    : std::to_chars(buf, buf + sizeof buf, x);
  return std::string(buf, r.ptr);
}

std::string scalar_text(const GgufValue& v) {
  if (v.type == GgufType::STRING) {
    std::string s = "\"" + printable(v.s, 80) + "\"";
    if (v.s.size() > 80) s += " (" + std::to_string(v.s.size()) + " bytes)";
    return s;
  }
  if (v.type == GgufType::BOOL) return v.i ? "true" : "false";
  if (is_float(v.type)) return fmt_number(v.f, v.type);
  if (v.type == GgufType::U64) return std::to_string(v.u);
  return std::to_string(v.i);
}

std::string array_text(const GgufValue& v) {
  constexpr size_t kShow = 6;
  const size_t n = v.array_size();
  std::string s = "[" + std::string(type_name(v.elem_type)) + " x " + std::to_string(n) + "]";
  for (size_t k = 0; k < n && k < kShow; ++k) {
    s += k ? ", " : " ";
    if (v.elem_type == GgufType::STRING) s += "\"" + printable(v.strs[k], 24) + "\"";
    else if (is_float(v.elem_type)) s += fmt_number(v.floats[k], v.elem_type);
    else if (v.elem_type == GgufType::BOOL) s += v.ints[k] ? "true" : "false";
    else if (v.elem_type == GgufType::U64) s += std::to_string(static_cast<uint64_t>(v.ints[k]));
    else s += std::to_string(v.ints[k]);
  }
  if (n > kShow) s += ", ...";
  return s;
}

}  // namespace

size_t GgufValue::array_size() const {
  if (!is_array()) return 0;
  if (elem_type == GgufType::STRING) return strs.size();
  if (is_float(elem_type)) return floats.size();
  return ints.size();
}

std::unique_ptr<GgufFile> GgufFile::open(const std::string& path) {
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->path_ = path;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error("gguf: " + path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    throw Error("gguf: " + path + ": cannot stat: " + std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error("gguf: " + path + ": not a regular file");
  }
  f->size_ = static_cast<size_t>(st.st_size);
  if (f->size_ > 0) {
    // Read-only private mapping: tensor views point straight into it (zero-copy).
    void* m = ::mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    const int e = errno;
    ::close(fd);
    if (m == MAP_FAILED) throw Error("gguf: " + path + ": mmap failed: " + std::strerror(e));
    f->mapping_ = m;
    f->base_ = static_cast<const uint8_t*>(m);
  } else {
    ::close(fd);
  }
  f->parse();
  return f;
}

std::unique_ptr<GgufFile> GgufFile::from_bytes(const uint8_t* data, size_t size, std::string label) {
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->path_ = std::move(label);
  if (size > 0) f->owned_.assign(data, data + size);
  f->base_ = f->owned_.data();
  f->size_ = size;
  f->parse();
  return f;
}

GgufFile::~GgufFile() {
  if (mapping_) ::munmap(mapping_, size_);
}

void GgufFile::parse() {
  Reader r(base_, size_, path_);

  r.set_context("header");
  if (size_ < 4) r.fail("file too small (" + std::to_string(size_) + " bytes) to be GGUF");
  const uint32_t magic = r.read<uint32_t>("magic");
  if (magic != kMagic) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08x", magic);
    r.fail(std::string("bad magic ") + buf + " (not a GGUF file)");
  }
  version_ = r.read<uint32_t>("version");
  // The version is small, so a byte-swapped one has its low 16 bits zero: the file is big-endian.
  if (version_ != 0 && (version_ & 0xFFFF) == 0) r.fail("big-endian GGUF not supported");
  if (version_ == 1) r.fail("GGUF version 1 is no longer supported");
  if (version_ < 2 || version_ > 3) r.fail("unsupported GGUF version " + std::to_string(version_));

  const uint64_t n_tensors = r.read<uint64_t>("tensor count");
  const uint64_t n_kv = r.read<uint64_t>("metadata count");
  if (n_kv > r.remaining() / kMinKvBytes) {
    r.fail("metadata count " + std::to_string(n_kv) + " exceeds what the file's " + std::to_string(size_) +
           " bytes can hold");
  }
  if (n_tensors > r.remaining() / kMinTensorInfoBytes) {
    r.fail("tensor count " + std::to_string(n_tensors) + " exceeds what the file's " + std::to_string(size_) +
           " bytes can hold");
  }

  kv_.reserve(static_cast<size_t>(n_kv));
  for (uint64_t k = 0; k < n_kv; ++k) {
    r.set_context("metadata entry " + std::to_string(k));
    std::string key = r.read_string("key");
    r.set_context("key " + quoted(key));
    if (kv_index_.count(key)) r.fail("duplicate key");
    GgufValue v = read_value(r);
    kv_index_.emplace(key, kv_.size());
    kv_.emplace_back(std::move(key), std::move(v));
  }

  r.set_context("key 'general.alignment'");
  alignment_ = 32;  // GGUF default
  if (const GgufValue* a = find("general.alignment")) {
    if (a->type != GgufType::U32) r.fail("must be u32, got " + value_type_name(*a));
    if (a->u == 0 || (a->u & (a->u - 1)) != 0) {
      r.fail("alignment " + std::to_string(a->u) + " is not a non-zero power of two");
    }
    alignment_ = static_cast<size_t>(a->u);
  }

  tensors_.reserve(static_cast<size_t>(n_tensors));
  for (uint64_t k = 0; k < n_tensors; ++k) {
    r.set_context("tensor info " + std::to_string(k));
    TensorView t;
    t.name = r.read_string("tensor name");
    r.set_context("tensor " + quoted(t.name));
    if (tensor_index_.count(t.name)) r.fail("duplicate tensor name");

    const uint32_t n_dims = r.read<uint32_t>("n_dims");
    if (n_dims < 1 || n_dims > kMaxDims) r.fail("n_dims " + std::to_string(n_dims) + " is not in 1..4");
    t.n_dims = static_cast<int>(n_dims);
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t ne = r.read<uint64_t>("dimension");
      if (ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        r.fail("dimension " + std::to_string(d) + " is negative (" + std::to_string(static_cast<int64_t>(ne)) + ")");
      }
      t.ne[d] = static_cast<int64_t>(ne);
    }
    int64_t n_elem = t.ne[0];
    for (int d = 1; d < kMaxDims; ++d) {
      if (__builtin_mul_overflow(n_elem, t.ne[d], &n_elem)) {
        r.fail("shape " + shape_string(t) + ": element count overflows");
      }
    }

    const uint32_t type_id = r.read<uint32_t>("tensor type");
    const DTypeInfo* info = dtype_info(type_id);
    if (!info) r.fail("unknown tensor type id " + std::to_string(type_id));
    // Known-but-unsupported types parse fine; the model loader decides whether it can use them.
    t.type = static_cast<DType>(type_id);
    if (t.ne[0] % info->block_elems != 0) {
      r.fail("ne[0] = " + std::to_string(t.ne[0]) + " is not a multiple of the " + info->name + " block size " +
             std::to_string(info->block_elems));
    }
    uint64_t nbytes = static_cast<uint64_t>(t.ne[0] / info->block_elems);
    bool overflow = __builtin_mul_overflow(nbytes, static_cast<uint64_t>(info->block_bytes), &nbytes);
    for (int d = 1; d < kMaxDims; ++d) {
      overflow = overflow || __builtin_mul_overflow(nbytes, static_cast<uint64_t>(t.ne[d]), &nbytes);
    }
    if (overflow || nbytes > std::numeric_limits<size_t>::max()) {
      r.fail("shape " + shape_string(t) + ": byte size overflows");
    }
    t.nbytes = static_cast<size_t>(nbytes);

    t.offset = r.read<uint64_t>("tensor offset");
    if (t.offset % alignment_ != 0) {
      r.fail("offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
             std::to_string(alignment_));
    }
    tensor_index_.emplace(t.name, tensors_.size());
    tensors_.push_back(std::move(t));
  }

  // The data section starts at the next alignment boundary (padding only when there are tensors).
  r.set_context("");
  data_offset_ = r.pos();
  if (!tensors_.empty()) {
    data_offset_ += (alignment_ - data_offset_ % alignment_) % alignment_;
    if (data_offset_ > size_) {
      r.fail("data section would start at " + std::to_string(data_offset_) + ", past the end of the file (" +
             std::to_string(size_) + " bytes)");
    }
  }
  const uint64_t data_size = size_ - data_offset_;
  for (TensorView& t : tensors_) {
    if (t.offset > data_size || t.nbytes > data_size - t.offset) {
      r.set_context("tensor " + quoted(t.name));
      r.fail("data at offset " + std::to_string(t.offset) + " + " + std::to_string(t.nbytes) +
             " bytes is out of range (data section holds " + std::to_string(data_size) + " bytes)");
    }
    t.data = base_ + data_offset_ + t.offset;
  }
}

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

std::string GgufFile::get_string(std::string_view key) const {
  const GgufValue& v = require(*this, key);
  if (v.type != GgufType::STRING) key_error(*this, key, "expected a string, got " + value_type_name(v));
  return v.s;
}

std::string GgufFile::get_string(std::string_view key, const std::string& def) const {
  return has(key) ? get_string(key) : def;
}

int64_t GgufFile::get_int(std::string_view key) const { return int_of(*this, key, require(*this, key)); }

int64_t GgufFile::get_int(std::string_view key, int64_t def) const {
  const GgufValue* v = find(key);
  return v ? int_of(*this, key, *v) : def;
}

double GgufFile::get_float(std::string_view key) const { return float_of(*this, key, require(*this, key)); }

double GgufFile::get_float(std::string_view key, double def) const {
  const GgufValue* v = find(key);
  return v ? float_of(*this, key, *v) : def;
}

bool GgufFile::get_bool(std::string_view key, bool def) const {
  const GgufValue* v = find(key);
  if (!v) return def;
  if (v->is_array() || !is_integer(v->type)) key_error(*this, key, "expected a bool, got " + value_type_name(*v));
  return v->type == GgufType::U64 ? v->u != 0 : v->i != 0;
}

const std::vector<std::string>& GgufFile::get_string_array(std::string_view key) const {
  const GgufValue& v = require(*this, key);
  if (!v.is_array() || v.elem_type != GgufType::STRING) {
    key_error(*this, key, "expected an array of string, got " + value_type_name(v));
  }
  return v.strs;
}

std::vector<int64_t> GgufFile::get_int_array(std::string_view key) const {
  const GgufValue& v = require(*this, key);
  if (!v.is_array()) return {int_of(*this, key, v)};
  if (!is_integer(v.elem_type)) key_error(*this, key, "expected an array of integers, got " + value_type_name(v));
  if (v.elem_type == GgufType::U64) {
    // U64 elements above INT64_MAX are stored wrapped (negative).
    for (size_t k = 0; k < v.ints.size(); ++k) {
      if (v.ints[k] < 0) {
        key_error(*this, key, "element " + std::to_string(k) + " = " +
                                  std::to_string(static_cast<uint64_t>(v.ints[k])) + " out of range for int64");
      }
    }
  }
  return v.ints;
}

std::vector<float> GgufFile::get_float_array(std::string_view key) const {
  const GgufValue& v = require(*this, key);
  if (!v.is_array()) return {static_cast<float>(float_of(*this, key, v))};
  std::vector<float> out;
  if (is_float(v.elem_type)) {
    out.assign(v.floats.begin(), v.floats.end());
  } else if (is_integer(v.elem_type)) {
    out.reserve(v.ints.size());
    for (int64_t x : v.ints) {
      out.push_back(v.elem_type == GgufType::U64 ? static_cast<float>(static_cast<uint64_t>(x))
                                                 : static_cast<float>(x));
    }
  } else {
    key_error(*this, key, "expected an array of numbers, got " + value_type_name(v));
  }
  return out;
}

const TensorView* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const TensorView& GgufFile::tensor(std::string_view name) const {
  const TensorView* t = find_tensor(name);
  if (!t) throw Error("gguf: " + path_ + ": missing tensor " + quoted(name));
  return *t;
}

std::string describe(const GgufFile& f, bool show_tensors) {
  std::string out;
  char line[512];
  out += "file: " + printable(f.path(), 400) + "\n";
  std::snprintf(line, sizeof line,
                "GGUF v%u | tensors: %zu | metadata keys: %zu | alignment: %zu | data offset: %zu | "
                "file size: %zu bytes (%s)\n",
                f.version(), f.tensors().size(), f.metadata().size(), f.alignment(), f.data_offset(),
                f.file_size(), human_bytes(f.file_size()).c_str());
  out += line;

  size_t key_w = 8;
  for (const auto& [k, v] : f.metadata()) key_w = std::max(key_w, std::min<size_t>(printable(k).size(), 48));
  out += "\nmetadata:\n";
  for (const auto& [k, v] : f.metadata()) {
    const std::string kp = printable(k);
    std::snprintf(line, sizeof line, "  %-*s  %-7s ", static_cast<int>(key_w), kp.c_str(),
                  v.is_array() ? "array" : type_name(v.type));
    out += line;
    out += v.is_array() ? array_text(v) : scalar_text(v);
    out += "\n";
  }

  // Per-type totals, by type id.
  std::map<uint32_t, std::pair<size_t, uint64_t>> per_type;
  uint64_t total = 0;
  for (const TensorView& t : f.tensors()) {
    auto& e = per_type[static_cast<uint32_t>(t.type)];
    e.first += 1;
    e.second += t.nbytes;
    total += t.nbytes;
  }

  if (show_tensors && !f.tensors().empty()) {
    size_t name_w = 4;
    for (const TensorView& t : f.tensors()) name_w = std::max(name_w, std::min<size_t>(printable(t.name).size(), 48));
    out += "\ntensors:\n";
    std::snprintf(line, sizeof line, "  %-*s  %-7s %-28s %14s %14s\n", static_cast<int>(name_w), "name", "type",
                  "shape", "bytes", "offset");
    out += line;
    for (const TensorView& t : f.tensors()) {
      const std::string np = printable(t.name);
      std::snprintf(line, sizeof line, "  %-*s  %-7s %-28s %14zu %14" PRIu64 "\n", static_cast<int>(name_w),
                    np.c_str(), dtype_name(static_cast<uint32_t>(t.type)), shape_string(t).c_str(), t.nbytes,
                    t.offset);
      out += line;
    }
  }

  out += "\nsummary:\n";
  for (const auto& [id, e] : per_type) {
    std::snprintf(line, sizeof line, "  %-7s %6zu tensors %14" PRIu64 " bytes (%s)\n", dtype_name(id), e.first,
                  e.second, human_bytes(e.second).c_str());
    out += line;
  }
  std::snprintf(line, sizeof line, "  total   %6zu tensors %14" PRIu64 " bytes (%s)\n", f.tensors().size(), total,
                human_bytes(total).c_str());
  out += line;
  return out;
}

}  // namespace slim

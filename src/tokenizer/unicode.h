// Unicode helpers for the tokenizers: UTF-8 decoding/validation, code point classes (as llama.cpp's
// unicode.cpp classifies them, from the generated tables in unicode_tables.cpp) and GPT-2's byte<->unicode
// mapping used by byte-level BPE vocabularies.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace slim::uni {

// One general-category class per code point (Unicode major class; Cn = Undefined, other C* = Control).
enum Category : uint8_t {
  kUndefined = 0, kNumber = 1, kLetter = 2, kSeparator = 3, kMark = 4, kPunctuation = 5, kSymbol = 6, kControl = 7,
};

struct CategoryRange {
  uint32_t first;  // range runs up to the next entry's first
  uint8_t cat;
};
// Generated tables (unicode_tables.cpp).
extern const CategoryRange kCategoryRanges[];
extern const size_t kCategoryRangesCount;
extern const uint32_t kWhiteSpace[];
extern const size_t kWhiteSpaceCount;

// Per-code-point flags: the low 3 bits are the Category, kWhiteSpaceBit marks the White_Space property.
// "No code point" (outside the text being split) is 0 flags, which no real code point has.
struct CpFlags {
  uint8_t v = 0;
  bool none() const { return v == 0; }
  Category cat() const { return static_cast<Category>(v & 7); }
  bool letter() const { return v != 0 && cat() == kLetter; }
  bool number() const { return v != 0 && cat() == kNumber; }
  bool punct() const { return v != 0 && cat() == kPunctuation; }
  bool space() const { return (v & 8) != 0; }
};
constexpr uint8_t kWhiteSpaceBit = 8;
constexpr uint8_t kPresentBit = 16;  // set for every real code point so that Undefined != "none"

CpFlags flags(uint32_t cp);

// Length of a UTF-8 sequence from its lead byte, as llama.cpp's unicode_len_utf8 (continuation and
// invalid lead bytes count 1).
inline size_t utf8_seq_len(uint8_t lead) {
  static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[lead >> 4];
}

// Strict UTF-8 validation (no overlongs, surrogates or code points above U+10FFFF). Returns the byte
// offset of the first bad sequence, or npos if s is valid.
size_t find_invalid_utf8(std::string_view s);
// Decodes valid UTF-8 (call find_invalid_utf8 first).
std::vector<uint32_t> decode_utf8(std::string_view s);
void append_utf8(std::string& out, uint32_t cp);

// GPT-2 byte-level BPE: every byte is shown as a printable code point (printable Latin-1 bytes as
// themselves, the rest as U+0100 + n in byte order).
uint32_t byte_to_cp(uint8_t b);
// Inverse; -1 if cp is not the image of a byte.
int cp_to_byte(uint32_t cp);

}  // namespace slim::uni

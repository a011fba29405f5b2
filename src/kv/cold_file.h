// The cold tier's backing store: one anonymous file on local disk. It is created in a directory
// (default $TMPDIR, else /tmp) and unlinked at once, so it never outlives the process, even after a crash.
// Blocks are read and written at fixed offsets with pread/pwrite; the file is sparse, so offsets for
// blocks never written cost no disk space.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace slim {

class ColdFile {
 public:
  // Throws slim::Error if the directory cannot hold a temporary file.
  explicit ColdFile(const std::string& dir = "");
  ~ColdFile();
  ColdFile(const ColdFile&) = delete;
  ColdFile& operator=(const ColdFile&) = delete;

  // Both throw slim::Error on an I/O error (a read past the end of what was written is one too).
  void write_at(const void* data, size_t bytes, uint64_t offset);
  void read_at(void* data, size_t bytes, uint64_t offset);
  // Gives the disk space of [offset, offset + bytes) back (best effort; contents become zeros).
  void discard(uint64_t offset, size_t bytes);
  const std::string& dir() const { return dir_; }

  static std::string default_dir();  // $TMPDIR if set and non-empty, else /tmp

 private:
  int fd_ = -1;
  std::string dir_;
};

}  // namespace slim

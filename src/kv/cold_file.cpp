#include "kv/cold_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "slim/error.h"

namespace slim {

std::string ColdFile::default_dir() {
  const char* t = std::getenv("TMPDIR");
  return t && *t ? std::string(t) : std::string("/tmp");
}

ColdFile::ColdFile(const std::string& dir) : dir_(dir.empty() ? default_dir() : dir) {
#ifdef O_TMPFILE
  fd_ = ::open(dir_.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);  // never has a name
#endif
  if (fd_ < 0) {
    std::string tmpl = dir_ + "/slim-kv-XXXXXX";
    std::vector<char> name(tmpl.begin(), tmpl.end());
    name.push_back('\0');
    fd_ = ::mkstemp(name.data());
    if (fd_ < 0)
      throw Error("kv: cannot create the cold-tier file in '" + dir_ + "': " + std::strerror(errno));
    ::unlink(name.data());  // the open descriptor keeps it alive; nothing is left behind
  }
}

ColdFile::~ColdFile() {
  if (fd_ >= 0) ::close(fd_);
}

void ColdFile::write_at(const void* data, size_t bytes, uint64_t offset) {
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t w = ::pwrite(fd_, p, bytes, static_cast<off_t>(offset));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0)
      throw Error("kv: writing the cold-tier file in '" + dir_ + "' failed: " +
                  (w < 0 ? std::strerror(errno) : "no progress (disk full?)"));
    p += w;
    bytes -= static_cast<size_t>(w);
    offset += static_cast<uint64_t>(w);
  }
}

void ColdFile::read_at(void* data, size_t bytes, uint64_t offset) {
  char* p = static_cast<char*>(data);
  while (bytes > 0) {
    const ssize_t r = ::pread(fd_, p, bytes, static_cast<off_t>(offset));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0)
      throw Error("kv: reading the cold-tier file in '" + dir_ + "' failed: " +
                  (r < 0 ? std::strerror(errno) : "unexpected end of file"));
    p += r;
    bytes -= static_cast<size_t>(r);
    offset += static_cast<uint64_t>(r);
  }
}

void ColdFile::discard(uint64_t offset, size_t bytes) {
#if defined(FALLOC_FL_PUNCH_HOLE) && defined(FALLOC_FL_KEEP_SIZE)
  (void)::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                    static_cast<off_t>(bytes));
#else
  (void)offset;
  (void)bytes;
#endif
}

}  // namespace slim

#include "transports/shm/shm_segment.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "base/error.h"

namespace prism::shm {

namespace {

// Closes the descriptor on every path; the mapping keeps the object alive on its own.
class FdGuard {
 public:
  explicit FdGuard(int fd) : fd_(fd) {}
  ~FdGuard() { ::close(fd_); }
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;

 private:
  int fd_;
};

// No MAP_POPULATE: a rank uses only its own 2(n-1) of the n(n-1) FIFOs, so it prefaults
// just those (see prefault) instead of the whole object.
std::byte* mapShared(int fd, size_t bytes, const std::string& name) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) throwSystemError("mmap of shared memory " + name);
  return static_cast<std::byte*>(p);
}

}  // namespace

ShmSegment ShmSegment::create(const std::string& name, size_t bytes) {
  int fd = ::shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  if (fd < 0) {
    if (errno == EEXIST) {
      throw Error(ncclInvalidUsage, "shared memory " + name +
                                        " already exists (name reused by a live communicator, "
                                        "or left by a process that died during setup)");
    }
    throwSystemError("shm_open " + name);
  }
  FdGuard guard(fd);
  try {
    // posix_fallocate, unlike ftruncate, makes tmpfs allocate (and zero) every page now:
    // a full /dev/shm is an error here rather than a SIGBUS at the first message.
    int rc = ::posix_fallocate(fd, 0, static_cast<off_t>(bytes));
    if (rc != 0) {
      errno = rc;
      throwSystemError("reserving " + std::to_string(bytes) + " bytes of shared memory " + name);
    }
    return ShmSegment(name, mapShared(fd, bytes, name), bytes, true);
  } catch (...) {
    ::shm_unlink(name.c_str());
    throw;
  }
}

ShmSegment ShmSegment::open(const std::string& name, size_t bytes) {
  int fd = ::shm_open(name.c_str(), O_RDWR, 0);
  if (fd < 0) throwSystemError("shm_open " + name);
  FdGuard guard(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) throwSystemError("fstat of shared memory " + name);
  check(static_cast<size_t>(st.st_size) == bytes, ncclInternalError,
        "shared memory " + name + " has " + std::to_string(st.st_size) + " bytes, expected " +
            std::to_string(bytes));
  return ShmSegment(name, mapShared(fd, bytes, name), bytes, false);
}

ShmSegment::ShmSegment(std::string name, std::byte* data, size_t size, bool owner)
    : name_(std::move(name)), data_(data), size_(size), linked_(owner) {}

ShmSegment::ShmSegment(ShmSegment&& other) noexcept
    : name_(std::move(other.name_)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      linked_(std::exchange(other.linked_, false)) {}

ShmSegment& ShmSegment::operator=(ShmSegment&& other) noexcept {
  if (this != &other) {
    reset();
    name_ = std::move(other.name_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    linked_ = std::exchange(other.linked_, false);
  }
  return *this;
}

ShmSegment::~ShmSegment() { reset(); }

void ShmSegment::unlink() {
  if (!linked_) return;
  linked_ = false;
  // Peers that mapped the object remove the name too (shm_rendezvous.cc); gone is fine.
  if (::shm_unlink(name_.c_str()) != 0 && errno != ENOENT) throwSystemError("shm_unlink " + name_);
}

void ShmSegment::prefault(size_t offset, size_t bytes) const noexcept {
  if (bytes == 0 || offset >= size_) return;
  static const size_t kPage = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  size_t begin = offset / kPage * kPage;
  size_t end = offset + bytes < size_ ? offset + bytes : size_;
  ::madvise(data_ + begin, end - begin, MADV_POPULATE_WRITE);
}

void ShmSegment::reset() noexcept {
  if (linked_) ::shm_unlink(name_.c_str());
  linked_ = false;
  // Unmapping touches only this process's page tables, so it is safe after peers exited.
  if (data_ != nullptr) ::munmap(data_, size_);
  data_ = nullptr;
  size_ = 0;
}

}  // namespace prism::shm

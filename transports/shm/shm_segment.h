// A POSIX shared memory object mapped into this process: the one allocation the
// shared-memory transport makes for a communicator.
#pragma once

#include <cstddef>
#include <string>

namespace prism::shm {

/// Owns one MAP_SHARED mapping of a POSIX shared memory object. Move-only; the destructor
/// unmaps, and the creator also unlinks the name if unlink() was never called, so a failed
/// setup leaves nothing behind in /dev/shm.
class ShmSegment {
 public:
  /// Creates "/<name>" exclusively (an existing object of that name is an error), reserves
  /// `bytes` of zeroed memory and maps it. Fails with ncclSystemError when /dev/shm cannot
  /// hold it, instead of a SIGBUS on a later first touch.
  static ShmSegment create(const std::string& name, size_t bytes);
  /// Maps an object that create() made; its size must be `bytes`.
  static ShmSegment open(const std::string& name, size_t bytes);

  ShmSegment() = default;
  ShmSegment(ShmSegment&& other) noexcept;
  ShmSegment& operator=(ShmSegment&& other) noexcept;
  ShmSegment(const ShmSegment&) = delete;
  ShmSegment& operator=(const ShmSegment&) = delete;
  ~ShmSegment();

  /// Removes the name. Mappings stay valid until every process unmaps them.
  void unlink();

  /// Fills this process's page tables for [offset, offset + bytes) now, so the first
  /// message through that range does not take the page faults. Best effort: without kernel
  /// support (MADV_POPULATE_WRITE, Linux 5.14) the faults just happen later.
  void prefault(size_t offset, size_t bytes) const noexcept;

  std::byte* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  ShmSegment(std::string name, std::byte* data, size_t size, bool owner);
  void reset() noexcept;

  std::string name_;
  std::byte* data_ = nullptr;
  size_t size_ = 0;
  bool linked_ = false;  ///< this process created the name and has not unlinked it yet
};

}  // namespace prism::shm

// Prism's internal error model: code that fails throws prism::Error; the C boundary
// (src/api/guard.h) is the only place that catches, so no exception crosses the ABI.
#pragma once

#include <stdexcept>
#include <string>

#include "base/source_location.h"
#include "nccl.h"

namespace prism {

/// An error on its way to the C boundary: an NCCL result code, a one-line reason, and the
/// file:line where it was raised (logged at WARN by the boundary).
class Error : public std::runtime_error {
 public:
  Error(ncclResult_t code, const std::string& reason,
        SourceLocation where = SourceLocation::current());

  ncclResult_t code() const { return code_; }
  /// "file.cc:123", where the error was raised.
  const std::string& where() const { return where_; }

 private:
  ncclResult_t code_;
  std::string where_;
};

/// Throws Error(code, reason) unless `ok`. Use for argument and state checks.
inline void check(bool ok, ncclResult_t code, const std::string& reason,
                  SourceLocation where = SourceLocation::current()) {
  if (!ok) throw Error(code, reason, where);
}

/// The same for a fixed reason: no std::string is built unless the check fails, which
/// matters on paths that run every call. Checks with a composed reason on such paths are
/// written `if (!ok) throw Error(code, a + b)` for the same reason.
inline void check(bool ok, ncclResult_t code, const char* reason,
                  SourceLocation where = SourceLocation::current()) {
  if (!ok) throw Error(code, reason, where);
}

/// Throws ncclSystemError naming the failed call and errno's text.
[[noreturn]] void throwSystemError(const std::string& what,
                                   SourceLocation where = SourceLocation::current());

}  // namespace prism

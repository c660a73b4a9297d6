#include "base/error.h"

#include <cerrno>
#include <cstring>

namespace prism {

namespace {
std::string shortLocation(const SourceLocation& where) {
  std::string file = where.file_name();
  auto slash = file.find_last_of('/');
  if (slash != std::string::npos) file = file.substr(slash + 1);
  return file + ":" + std::to_string(where.line());
}
}  // namespace

Error::Error(ncclResult_t code, const std::string& reason, SourceLocation where)
    : std::runtime_error(reason), code_(code), where_(shortLocation(where)) {}

void throwSystemError(const std::string& what, SourceLocation where) {
  int err = errno;
  throw Error(ncclSystemError, what + ": " + std::strerror(err), where);
}

}  // namespace prism

#include "base/error.h"

#include <cerrno>
#include <cstring>

namespace prism {

namespace {
std::string shortLocation(const std::source_location& where) {
  std::string file = where.file_name();
  auto slash = file.find_last_of('/');
  if (slash != std::string::npos) file = file.substr(slash + 1);
  return file + ":" + std::to_string(where.line());
}
}  // namespace

Error::Error(ncclResult_t code, const std::string& reason, std::source_location where)
    : std::runtime_error(reason), code_(code), where_(shortLocation(where)) {}

void throwSystemError(const std::string& what, std::source_location where) {
  int err = errno;
  throw Error(ncclSystemError, what + ": " + std::strerror(err), where);
}

}  // namespace prism

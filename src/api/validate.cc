#include "api/validate.h"

#include <string>

#include "api/handle.h"
#include "core/error.h"

namespace prism::api {

Communicator& usableComm(ncclComm* comm) {
  check(comm != nullptr, ncclInvalidArgument, "comm is NULL");
  Communicator& c = comm->get();
  c.checkUsable();
  return c;
}

DataType checkedType(ncclDataType_t type) {
  int value = static_cast<int>(type);
  if (value < 0 || value >= kNumDataTypes)
    throw Error(ncclInvalidArgument, "unknown datatype " + std::to_string(value));
  return static_cast<DataType>(value);
}

void checkRank(int rank, int nranks, const char* what) {
  if (rank < 0 || rank >= nranks)
    throw Error(ncclInvalidArgument, std::string(what) + " " + std::to_string(rank) +
                                         " is outside [0, " + std::to_string(nranks) + ")");
}

size_t checkedBytes(size_t count, DataType type, size_t factor, const char* what) {
  size_t bytes = 0;
  bool overflow = __builtin_mul_overflow(count, dataTypeSize(type), &bytes) ||
                  __builtin_mul_overflow(bytes, factor, &bytes);
  if (overflow || bytes > kMaxCallBytes)
    throw Error(ncclInvalidArgument, std::string(what) + " of " + std::to_string(count) + " " +
                                         dataTypeName(type) + " elements is too large (limit " +
                                         std::to_string(kMaxCallBytes) + " bytes)");
  return bytes;
}

void checkBuffer(const void* buffer, size_t count, const char* what) {
  if (buffer == nullptr && count != 0)
    throw Error(ncclInvalidArgument,
                std::string(what) + " is NULL with count " + std::to_string(count));
}

void checkOutPointer(const void* pointer, const char* what) {
  if (pointer == nullptr) throw Error(ncclInvalidArgument, std::string(what) + " is NULL");
}

}  // namespace prism::api

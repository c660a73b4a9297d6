// Per-communicator API state: custom reduction ops and buffer registrations.
#include <cstring>

#include "base/error.h"
#include "base/log.h"
#include "src/comm/communicator.h"
#include "src/core/shared_host_memory.h"
#include "src/device/device.h"
#include "transports/transport.h"

namespace prism {

Reduction Communicator::reductionFor(int op, DataType type) const {
  Reduction r;
  switch (op) {
    case ncclSum:
      return r;
    case ncclProd:
      r.op = ReduceOp::Prod;
      return r;
    case ncclMax:
      r.op = ReduceOp::Max;
      return r;
    case ncclMin:
      r.op = ReduceOp::Min;
      return r;
    case ncclAvg:
      r.average = true;
      return r;
    default:
      break;
  }
  size_t index = static_cast<size_t>(op) - ncclNumOps;
  if (!(op >= ncclNumOps && index < customOps_.size() && customOps_[index].has_value()))
    throw Error(ncclInvalidArgument, "unknown reduction op " + std::to_string(op));
  const CustomOp& custom = *customOps_[index];
  if (custom.type != type)
    throw Error(ncclInvalidArgument, "reduction op " + std::to_string(op) + " was created for " +
                                         dataTypeName(custom.type) + " but is used with " +
                                         dataTypeName(type));
  return custom.reduction;
}

int Communicator::createPreMulSum(DataType type, const void* scalar, bool hostImmediate) {
  CustomOp custom;
  custom.type = type;
  custom.reduction.preMultiply = true;
  if (hostImmediate) {
    std::memcpy(custom.reduction.scalar.data(), scalar, dataTypeSize(type));
  } else {
    custom.reduction.scalarSource = scalar;
  }
  for (size_t i = 0; i < customOps_.size(); ++i) {
    if (!customOps_[i]) {
      customOps_[i] = custom;
      return ncclNumOps + static_cast<int>(i);
    }
  }
  check(customOps_.size() < 1u << 20, ncclInvalidUsage, "too many live PreMulSum ops");
  customOps_.push_back(custom);
  return ncclNumOps + static_cast<int>(customOps_.size() - 1);
}

void Communicator::destroyOp(int op) {
  if (op < ncclNumOps)
    throw Error(ncclInvalidArgument,
                "reduction op " + std::to_string(op) + " is built in and cannot be destroyed");
  size_t index = static_cast<size_t>(op) - ncclNumOps;
  if (!(index < customOps_.size() && customOps_[index].has_value()))
    throw Error(ncclInvalidArgument,
                "reduction op " + std::to_string(op) + " does not exist on this communicator");
  customOps_[index].reset();
}

void* Communicator::registerBuffer(void* buff, size_t size) {
  // Host buffers need no pinning. Memory the caller mapped shared from a file or memfd
  // becomes mappable by peers in other processes (the direct path); private memory stays
  // on the FIFOs. A network transport that moves registered memory without staging
  // (kCapZeroCopy) registers it too; one that refuses it leaves the buffer staged, which
  // is slower but correct, so a refusal is logged, not an error. The handle is checked
  // against registrations_ at Deregister.
  auto* r = new Registration{shared_host_memory::adopt(buff, size), nullptr};
  if (device::sideOf(buff) == device::Side::Host) {
    try {
      r->transport = transport_->registerMemory(buff, size);
    } catch (const Error& e) {
      log::info(log::kNet | log::kAlloc, "comm %s rank %d: %zu bytes at %p stay staged: %s",
                name_.c_str(), rank_, size, buff, e.what());
    }
  }
  registrations_.insert(r);
  return r;
}

void Communicator::deregisterBuffer(void* handle) {
  auto it = registrations_.find(handle);
  check(it != registrations_.end(), ncclInvalidArgument,
        "handle was not registered with this communicator");
  forgetRegistration(static_cast<Registration*>(handle));
  registrations_.erase(it);
}

void Communicator::forgetRegistration(Registration* r) {
  if (r->shared != 0) shared_host_memory::forget(r->shared);
  if (r->transport != nullptr) transport_->deregisterMemory(r->transport);
  delete r;
}

}  // namespace prism

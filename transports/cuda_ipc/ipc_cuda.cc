#include <cuda.h>
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <string>

#include "base/error.h"
#include "transports/cuda_ipc/ipc.h"

namespace prism::cuda_ipc {

namespace {

using GetAddressRange = CUresult (*)(CUdeviceptr*, size_t*, CUdeviceptr);
using GetPointerAttribute = CUresult (*)(void*, CUpointer_attribute, CUdeviceptr);

/// Driver entry points the runtime does not wrap, looked up once through the runtime so
/// that nothing links libcuda directly.
template <typename Fn>
Fn driverEntry(const char* symbol) {
  void* fn = nullptr;
  cudaDriverEntryPointQueryResult found{};
  cudaError_t err = cudaGetDriverEntryPointByVersion(symbol, &fn, 12000, cudaEnableDefault, &found);
  prism::check(err == cudaSuccess && found == cudaDriverEntryPointSuccess && fn != nullptr,
               ncclUnhandledCudaError, std::string("CUDA driver has no ") + symbol);
  return reinterpret_cast<Fn>(fn);
}

/// Every peer allocation and event this process has opened, shared by all communicators.
struct Mappings {
  struct Buffer {
    cudaIpcMemHandle_t handle;
    void* base;
  };
  std::mutex mutex;
  std::map<std::pair<int64_t, uint64_t>, Buffer> buffers;  ///< by (owner pid, owner base)
  std::map<std::array<char, sizeof(cudaIpcEventHandle_t)>, cudaEvent_t> events;
};

Mappings& mappings() {
  static auto* table = new Mappings;  // outlives every communicator; never destroyed
  return *table;
}

}  // namespace

void check(cudaError_t err, const char* what) {
  prism::check(err == cudaSuccess, ncclUnhandledCudaError,
               std::string(what) + ": " + cudaGetErrorString(err));
}

BufferRef Exporter::describe(const void* pointer) {
  static GetAddressRange addressRange = driverEntry<GetAddressRange>("cuMemGetAddressRange");
  static GetPointerAttribute attribute = driverEntry<GetPointerAttribute>("cuPointerGetAttribute");
  BufferRef ref;
  if (pointer == nullptr) return ref;
  if (inProcess_) {
    ref.address = reinterpret_cast<uint64_t>(pointer);
    ref.owner = getpid();
    return ref;
  }
  auto address = reinterpret_cast<CUdeviceptr>(pointer);
  CUdeviceptr base = 0;
  size_t size = 0;
  prism::check(addressRange(&base, &size, address) == CUDA_SUCCESS, ncclInvalidArgument,
               "buffer is not inside a CUDA allocation this process can share");
  unsigned long long bufferId = 0;
  bool identified = attribute(&bufferId, CU_POINTER_ATTRIBUTE_BUFFER_ID, base) == CUDA_SUCCESS;
  auto it = byBase_.find(base);
  if (it == byBase_.end() || !identified || it->second.bufferId != bufferId) {
    Entry entry{bufferId, {}};
    cudaError_t err = cudaIpcGetMemHandle(&entry.handle, reinterpret_cast<void*>(base));
    prism::check(
        err == cudaSuccess, ncclInvalidUsage,
        std::string("cannot share the buffer with other processes (cudaIpcGetMemHandle: ") +
            cudaGetErrorString(err) +
            "); allocate it with cudaMalloc or ncclMemAlloc, not cuMem/VMM");
    it = byBase_.insert_or_assign(base, entry).first;
  }
  ref.address = address;
  ref.owner = getpid();
  ref.offset = address - base;
  ref.handle = it->second.handle;
  return ref;
}

void* Importer::open(const BufferRef& ref, bool sameProcess) {
  if (ref.address == 0) return nullptr;
  if (sameProcess) return reinterpret_cast<void*>(ref.address);
  Mappings& m = mappings();
  std::lock_guard lock(m.mutex);
  auto key = std::make_pair(ref.owner, ref.address - ref.offset);
  auto it = m.buffers.find(key);
  if (it != m.buffers.end() &&
      std::memcmp(&it->second.handle, &ref.handle, sizeof(ref.handle)) != 0) {
    // The owner freed that allocation and made a new one at the same address.
    cudaIpcCloseMemHandle(it->second.base);
    m.buffers.erase(it);
    it = m.buffers.end();
  }
  if (it == m.buffers.end()) {
    void* base = nullptr;
    check(cudaIpcOpenMemHandle(&base, ref.handle, cudaIpcMemLazyEnablePeerAccess),
          "cudaIpcOpenMemHandle of a peer's buffer");
    it = m.buffers.emplace(key, Mappings::Buffer{ref.handle, base}).first;
  }
  return static_cast<char*>(it->second.base) + ref.offset;
}

cudaEvent_t Importer::open(const EventRef& ref, bool sameProcess) {
  if (sameProcess) return reinterpret_cast<cudaEvent_t>(ref.address);
  Mappings& m = mappings();
  std::lock_guard lock(m.mutex);
  std::array<char, sizeof(cudaIpcEventHandle_t)> key;
  std::memcpy(key.data(), &ref.handle, sizeof(ref.handle));
  auto it = m.events.find(key);
  if (it == m.events.end()) {
    cudaEvent_t event = nullptr;
    check(cudaIpcOpenEventHandle(&event, ref.handle), "cudaIpcOpenEventHandle of a peer's event");
    it = m.events.emplace(key, event).first;
  }
  return it->second;
}

cudaEvent_t createSharedEvent() {
  cudaEvent_t event = nullptr;
  check(cudaEventCreateWithFlags(&event, cudaEventDisableTiming | cudaEventInterprocess),
        "cudaEventCreateWithFlags(interprocess)");
  return event;
}

EventRef describe(cudaEvent_t event) {
  EventRef ref;
  ref.address = reinterpret_cast<uint64_t>(event);
  check(cudaIpcGetEventHandle(&ref.handle, event), "cudaIpcGetEventHandle");
  return ref;
}

}  // namespace prism::cuda_ipc

// The smoke test's view of a network plugin: every ABI version's table behind one
// interface, as a host library's loader adapts them, plus the traffic checks
// (smoke_traffic.cc) that run over it.
#pragma once

#include <dlfcn.h>
#include <string.h>

#include <atomic>
#include <memory>
#include <string>

#include "prism/nccl_net_abi.h"

namespace prismtest::smoke {

/// What every version reports, in v11's layout (older versions leave the rest zero).
using Properties = ncclNetProperties_v11_t;

/// Records a failed check (printf-style) and lets the test go on; defined by the program.
void fail(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

/// One exported table, whatever its version. Always device 0, host memory, one buffer per
/// receive, no device offload.
class Net {
 public:
  virtual ~Net() = default;
  virtual int version() const = 0;
  /// `*ctx` is the v11 per-communicator context, null for older versions.
  virtual ncclResult_t init(void** ctx, ncclDebugLogger_t logger) = 0;
  virtual ncclResult_t finalize(void* ctx) = 0;
  virtual ncclResult_t devices(int* ndev) = 0;
  virtual ncclResult_t properties(int dev, Properties* props) = 0;
  virtual ncclResult_t listen(void* ctx, void* handle, void** listenComm) = 0;
  virtual ncclResult_t connect(void* ctx, void* handle, void** sendComm) = 0;
  virtual ncclResult_t accept(void* listenComm, void** recvComm) = 0;
  virtual ncclResult_t regMr(void* comm, void* data, size_t size, void** mhandle) = 0;
  virtual ncclResult_t regMrDmaBuf(void* comm, void* data, size_t size, void** mhandle) = 0;
  virtual ncclResult_t deregMr(void* comm, void* mhandle) = 0;
  virtual ncclResult_t isend(void* comm, void* data, size_t size, int tag, void* mhandle,
                             void** request) = 0;
  virtual ncclResult_t irecv(void* comm, void* data, size_t size, int tag, void* mhandle,
                             void** request) = 0;
  virtual ncclResult_t iflush(void* comm, void* data, int size, void* mhandle, void** request) = 0;
  virtual ncclResult_t test(void* request, int* done, int* size) = 0;
  virtual ncclResult_t closeSend(void* comm) = 0;
  virtual ncclResult_t closeRecv(void* comm) = 0;
  virtual ncclResult_t closeListen(void* listenComm) = 0;
};

template <class Table, int kVersion>
class NetOf final : public Net {
 public:
  explicit NetOf(Table* table) : t_(table) {}
  int version() const override { return kVersion; }

  ncclResult_t init(void** ctx, ncclDebugLogger_t logger) override {
    *ctx = nullptr;
    if constexpr (kVersion >= 11) {
      static std::atomic<uint64_t> commId{1};
      ncclNetCommConfig_v11_t config{NCCL_NET_TRAFFIC_CLASS_UNDEF};
      return t_->init(ctx, commId++, &config, logger, nullptr);
    } else if constexpr (kVersion == 10) {
      return t_->init(logger, nullptr);
    } else {
      return t_->init(logger);
    }
  }
  ncclResult_t finalize(void* ctx) override {
    if constexpr (kVersion >= 11) {
      return t_->finalize(ctx);
    } else {
      return ncclSuccess;
    }
  }
  ncclResult_t devices(int* ndev) override { return t_->devices(ndev); }
  ncclResult_t properties(int dev, Properties* props) override {
    *props = {};
    if constexpr (kVersion >= 11) {
      return t_->getProperties(dev, props);
    } else if constexpr (kVersion >= 9) {
      ncclNetProperties_v9_t p{};
      ncclResult_t result = t_->getProperties(dev, &p);
      memcpy(props, &p, sizeof(p));  // v11 extends v9 at the end
      return result;
    } else {
      ncclNetProperties_v8_t p{};
      ncclResult_t result = t_->getProperties(dev, &p);
      props->name = p.name;
      props->pciPath = p.pciPath;
      props->guid = p.guid;
      props->ptrSupport = p.ptrSupport;
      props->regIsGlobal = p.regIsGlobal;
      props->speed = p.speed;
      props->port = p.port;
      props->latency = p.latency;
      props->maxComms = p.maxComms;
      props->maxRecvs = p.maxRecvs;
      props->netDeviceType = p.netDeviceType;
      props->netDeviceVersion = p.netDeviceVersion;
      return result;
    }
  }
  ncclResult_t listen(void* ctx, void* handle, void** listenComm) override {
    if constexpr (kVersion >= 11) {
      return t_->listen(ctx, 0, handle, listenComm);
    } else {
      return t_->listen(0, handle, listenComm);
    }
  }
  ncclResult_t connect(void* ctx, void* handle, void** sendComm) override {
    ncclNetDeviceHandle_v8_t* devComm = nullptr;
    if constexpr (kVersion >= 11) {
      return t_->connect(ctx, 0, handle, sendComm, &devComm);
    } else if constexpr (kVersion == 10) {
      ncclNetCommConfig_v10_t config{NCCL_NET_TRAFFIC_CLASS_UNDEF};
      return t_->connect(0, &config, handle, sendComm, &devComm);
    } else {
      return t_->connect(0, handle, sendComm, &devComm);
    }
  }
  ncclResult_t accept(void* listenComm, void** recvComm) override {
    ncclNetDeviceHandle_v8_t* devComm = nullptr;
    return t_->accept(listenComm, recvComm, &devComm);
  }
  ncclResult_t regMr(void* comm, void* data, size_t size, void** mhandle) override {
    return t_->regMr(comm, data, size, NCCL_PTR_HOST, mhandle);
  }
  ncclResult_t regMrDmaBuf(void* comm, void* data, size_t size, void** mhandle) override {
    return t_->regMrDmaBuf(comm, data, size, NCCL_PTR_DMABUF, 0, -1, mhandle);
  }
  ncclResult_t deregMr(void* comm, void* mhandle) override { return t_->deregMr(comm, mhandle); }
  ncclResult_t isend(void* comm, void* data, size_t size, int tag, void* mhandle,
                     void** request) override {
    if constexpr (kVersion >= 10) {
      return t_->isend(comm, data, size, tag, mhandle, nullptr, request);
    } else if constexpr (kVersion == 9) {
      return t_->isend(comm, data, size, tag, mhandle, request);
    } else {
      return t_->isend(comm, data, static_cast<int>(size), tag, mhandle, request);
    }
  }
  ncclResult_t irecv(void* comm, void* data, size_t size, int tag, void* mhandle,
                     void** request) override {
    void* datas[1] = {data};
    int tags[1] = {tag};
    void* mhandles[1] = {mhandle};
    if constexpr (kVersion >= 10) {
      size_t sizes[1] = {size};
      void* phandles[1] = {nullptr};
      return t_->irecv(comm, 1, datas, sizes, tags, mhandles, phandles, request);
    } else if constexpr (kVersion == 9) {
      size_t sizes[1] = {size};
      return t_->irecv(comm, 1, datas, sizes, tags, mhandles, request);
    } else {
      int sizes[1] = {static_cast<int>(size)};
      return t_->irecv(comm, 1, datas, sizes, tags, mhandles, request);
    }
  }
  ncclResult_t iflush(void* comm, void* data, int size, void* mhandle, void** request) override {
    void* datas[1] = {data};
    int sizes[1] = {size};
    void* mhandles[1] = {mhandle};
    return t_->iflush(comm, 1, datas, sizes, mhandles, request);
  }
  ncclResult_t test(void* request, int* done, int* size) override {
    return t_->test(request, done, size);
  }
  ncclResult_t closeSend(void* comm) override { return t_->closeSend(comm); }
  ncclResult_t closeRecv(void* comm) override { return t_->closeRecv(comm); }
  ncclResult_t closeListen(void* listenComm) override { return t_->closeListen(listenComm); }

 private:
  Table* t_;
};

/// The table `version` exports (0: the newest of v11..v8), or null when there is none.
inline std::unique_ptr<Net> loadNet(void* library, int version) {
  auto table = [&](int v) {
    return dlsym(library, ("ncclNetPlugin_v" + std::to_string(v)).c_str());
  };
  for (int v = 11; v >= 8; --v) {
    if (version != 0 && v != version) continue;
    void* t = table(v);
    if (t == nullptr) continue;
    switch (v) {
      case 11:
        return std::make_unique<NetOf<ncclNet_v11_t, 11>>(static_cast<ncclNet_v11_t*>(t));
      case 10:
        return std::make_unique<NetOf<ncclNet_v10_t, 10>>(static_cast<ncclNet_v10_t*>(t));
      case 9:
        return std::make_unique<NetOf<ncclNet_v9_t, 9>>(static_cast<ncclNet_v9_t*>(t));
      default:
        return std::make_unique<NetOf<ncclNet_v8_t, 8>>(static_cast<ncclNet_v8_t*>(t));
    }
  }
  return nullptr;
}

/// Streams messages of awkward sizes from `sendComm` to the peer rank and takes the peer's
/// from `recvComm`, both at once, checking every size and byte. Run by each rank's thread.
void exchange(Net& net, void* sendComm, void* recvComm, int rank);

/// Over established pairs (sendA -> recvA, sendB -> recvB): a message longer than the
/// buffer posted for it fails the receive, and closing sendB fails a receive on recvB.
/// Leaves sendB closed (set to null).
void checkErrors(Net& net, void* sendA, void* recvA, void** sendB, void* recvB);

}  // namespace prismtest::smoke

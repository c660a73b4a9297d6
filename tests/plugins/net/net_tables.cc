// The exported tables, one per ABI version, each adapting the plugin (net_plugin.h) to its
// version's signatures. This is the one file built once per variant; its compile
// definitions say which tables a variant exports and how it misbehaves:
//   PRISMTEST_NET_V8 .. PRISMTEST_NET_V11  export ncclNetPlugin_vN (0 or 1)
//   PRISMTEST_NET_DECOY                    export only ncclNetPlugin_v5, a version too old to load
//   PRISMTEST_NET_NDEVS                    what devices() reports (default 1)
//   PRISMTEST_NET_INIT_FAILS               init returns ncclSystemError
// Every entry point catches what C++ could throw: nothing escapes into the C host.
#include <limits.h>
#include <string.h>

#include <algorithm>
#include <new>

#include "tests/plugins/net/net_plugin.h"

#ifndef PRISMTEST_NET_NDEVS
#define PRISMTEST_NET_NDEVS 1
#endif
#ifndef PRISMTEST_NET_INIT_FAILS
#define PRISMTEST_NET_INIT_FAILS 0
#endif

#define PRISMTEST_EXPORT __attribute__((visibility("default")))

namespace prismtest::tables {

constexpr int kDevices = PRISMTEST_NET_NDEVS;
constexpr bool kInitFails = PRISMTEST_NET_INIT_FAILS != 0;
constexpr uint64_t kContextMagic = 0x5052'5443'5458'0011;

/// The per-communicator state of a v11 init; the plugin needs none beyond a check.
struct Context {
  uint64_t magic;
  uint64_t commId;
  int trafficClass;
};

template <class Body>
ncclResult_t guarded(Body&& body) noexcept {
  try {
    return body();
  } catch (...) {
    PRISMTEST_WARN("prismtest: unexpected C++ exception");
    return ncclInternalError;
  }
}

ncclResult_t initAny(ncclDebugLogger_t logFunction, int version) {
  if (kInitFails) {
    if (logFunction != nullptr) {
      logFunction(NCCL_LOG_WARN, NCCL_NET, __FILE__, __LINE__,
                  "prismtest: init v%d fails, as this variant is built to", version);
    }
    return ncclSystemError;
  }
  return guarded([&] { return loadConfig(logFunction, version); });
}

ncclResult_t checkDevice(int dev) {
  if (dev >= 0 && dev < kDevices) return ncclSuccess;
  PRISMTEST_WARN("prismtest: no device %d", dev);
  return ncclInvalidArgument;
}

// ---- entry points every version shares ----

ncclResult_t devices(int* ndev) {
  *ndev = kDevices;
  return ncclSuccess;
}

ncclResult_t listenAny(int dev, void* handle, void** listenComm) {
  *listenComm = nullptr;
  if (checkDevice(dev) != ncclSuccess) return ncclInvalidArgument;
  return guarded([&] { return listen(handle, listenComm); });
}

ncclResult_t connectAny(int dev, void* handle, void** sendComm) {
  *sendComm = nullptr;
  if (checkDevice(dev) != ncclSuccess) return ncclInvalidArgument;
  return guarded([&] { return connect(handle, sendComm); });
}

ncclResult_t acceptAny(void* listenComm, void** recvComm, ncclNetDeviceHandle_v8_t** devComm) {
  return guarded([&] { return accept(listenComm, recvComm); });
}

ncclResult_t regMrAny(void* comm, void* data, size_t size, int type, void** mhandle) {
  return guarded([&] { return regMr(comm, data, size, type, mhandle); });
}

ncclResult_t regMrDmaBuf(void* comm, void* data, size_t size, int type, uint64_t offset, int fd,
                         void** mhandle) {
  *mhandle = nullptr;
  PRISMTEST_WARN("prismtest: DMA-BUF registration is not supported");
  return ncclInternalError;
}

ncclResult_t deregMrAny(void* comm, void* mhandle) { return deregMr(comm, mhandle); }

ncclResult_t isendAny(void* sendComm, void* data, size_t size, int tag, void* mhandle,
                      void** request) {
  return guarded([&] { return isend(sendComm, data, size, tag, request); });
}

ncclResult_t irecvAny(void* recvComm, int n, void** data, size_t* sizes, int* tags, void** mhandles,
                      void** request) {
  return guarded([&] { return irecv(recvComm, n, data, sizes, request); });
}

ncclResult_t iflush(void* recvComm, int n, void** data, int* sizes, void** mhandles,
                    void** request) {
  *request = nullptr;  // host memory: nothing to flush
  return ncclSuccess;
}

ncclResult_t testAny(void* request, int* done, int* sizes) {
  return guarded([&] {
    size_t size = 0;
    ncclResult_t result = test(request, done, &size);
    if (result == ncclSuccess && *done && sizes != nullptr) {
      sizes[0] = static_cast<int>(std::min<size_t>(size, INT_MAX));
    }
    return result;
  });
}

ncclResult_t closeCommAny(void* comm) { return closeComm(comm); }
ncclResult_t closeListenAny(void* listenComm) { return closeListen(listenComm); }

ncclResult_t getDeviceMr(void* comm, void* mhandle, void** dptrMhandle) {
  *dptrMhandle = nullptr;
  return ncclSuccess;
}

ncclResult_t irecvConsumed(void* recvComm, int n, void* request) { return ncclSuccess; }

ncclResult_t makeVDevice(int* d, ncclNetVDeviceProps_v9_t* props) {
  PRISMTEST_WARN("prismtest: virtual devices are not supported");
  return ncclInvalidUsage;
}

ncclResult_t getProperties(int dev, ncclNetProperties_v11_t* props) {
  if (checkDevice(dev) != ncclSuccess) return ncclInvalidArgument;
  fillProperties(props);
  return ncclSuccess;
}

// ---- version 8: int sizes, no virtual devices ----

ncclResult_t init8(ncclDebugLogger_t logFunction) { return initAny(logFunction, 8); }

ncclResult_t getProperties8(int dev, ncclNetProperties_v8_t* props) {
  ncclNetProperties_v11_t all;
  ncclResult_t result = getProperties(dev, &all);
  if (result != ncclSuccess) return result;
  *props = {.name = all.name,
            .pciPath = all.pciPath,
            .guid = all.guid,
            .ptrSupport = all.ptrSupport,
            .regIsGlobal = all.regIsGlobal,
            .speed = all.speed,
            .port = all.port,
            .latency = all.latency,
            .maxComms = all.maxComms,
            .maxRecvs = all.maxRecvs,
            .netDeviceType = all.netDeviceType,
            .netDeviceVersion = all.netDeviceVersion};
  return ncclSuccess;
}

ncclResult_t connect8(int dev, void* handle, void** sendComm, ncclNetDeviceHandle_v8_t** devComm) {
  return connectAny(dev, handle, sendComm);
}

ncclResult_t isend8(void* sendComm, void* data, int size, int tag, void* mhandle, void** request) {
  if (size < 0) return ncclInvalidArgument;
  return isendAny(sendComm, data, static_cast<size_t>(size), tag, mhandle, request);
}

ncclResult_t irecv8(void* recvComm, int n, void** data, int* sizes, int* tags, void** mhandles,
                    void** request) {
  if (n == 1 && sizes[0] < 0) return ncclInvalidArgument;
  size_t size = n == 1 ? static_cast<size_t>(sizes[0]) : 0;  // irecv refuses n != 1
  return irecvAny(recvComm, n, data, &size, tags, mhandles, request);
}

// ---- version 9: size_t sizes ----

ncclResult_t init9(ncclDebugLogger_t logFunction) { return initAny(logFunction, 9); }

ncclResult_t getProperties9(int dev, ncclNetProperties_v9_t* props) {
  ncclNetProperties_v11_t all;
  ncclResult_t result = getProperties(dev, &all);
  if (result != ncclSuccess) return result;
  memcpy(props, &all, sizeof(*props));  // v9 is v11 without its last field
  return ncclSuccess;
}

// ---- version 10: comm config, profiler handles ----

ncclResult_t init10(ncclDebugLogger_t logFunction, ncclProfilerCallback_t profFunction) {
  return initAny(logFunction, 10);
}

ncclResult_t connect10(int dev, ncclNetCommConfig_v10_t* config, void* handle, void** sendComm,
                       ncclNetDeviceHandle_v10_t** devComm) {
  return connectAny(dev, handle, sendComm);
}

ncclResult_t isend10(void* sendComm, void* data, size_t size, int tag, void* mhandle, void* phandle,
                     void** request) {
  return isendAny(sendComm, data, size, tag, mhandle, request);
}

ncclResult_t irecv10(void* recvComm, int n, void** data, size_t* sizes, int* tags, void** mhandles,
                     void** phandles, void** request) {
  return irecvAny(recvComm, n, data, sizes, tags, mhandles, request);
}

// ---- version 11: a context per communicator ----

ncclResult_t init11(void** ctx, uint64_t commId, ncclNetCommConfig_v11_t* config,
                    ncclDebugLogger_t logFunction, ncclProfilerCallback_t profFunction) {
  *ctx = nullptr;
  ncclResult_t result = initAny(logFunction, 11);
  if (result != ncclSuccess) return result;
  int trafficClass = config != nullptr ? config->trafficClass : NCCL_NET_TRAFFIC_CLASS_UNDEF;
  *ctx = new (std::nothrow) Context{kContextMagic, commId, trafficClass};
  return *ctx != nullptr ? ncclSuccess : ncclSystemError;
}

ncclResult_t checkContext(void* ctx) {
  auto* context = static_cast<Context*>(ctx);
  if (context != nullptr && context->magic == kContextMagic) return ncclSuccess;
  PRISMTEST_WARN("prismtest: call with a context that init did not make");
  return ncclInvalidArgument;
}

ncclResult_t listen11(void* ctx, int dev, void* handle, void** listenComm) {
  *listenComm = nullptr;
  if (checkContext(ctx) != ncclSuccess) return ncclInvalidArgument;
  return listenAny(dev, handle, listenComm);
}

ncclResult_t connect11(void* ctx, int dev, void* handle, void** sendComm,
                       ncclNetDeviceHandle_v11_t** devComm) {
  *sendComm = nullptr;
  if (checkContext(ctx) != ncclSuccess) return ncclInvalidArgument;
  return connectAny(dev, handle, sendComm);
}

ncclResult_t finalize11(void* ctx) {
  if (checkContext(ctx) != ncclSuccess) return ncclInvalidArgument;
  auto* context = static_cast<Context*>(ctx);
  context->magic = 0;
  delete context;
  return ncclSuccess;
}

ncclResult_t setNetAttr11(void* ctx, ncclNetAttr_v11_t* netAttr) { return checkContext(ctx); }

}  // namespace prismtest::tables

namespace pt = prismtest::tables;

extern "C" {

#if PRISMTEST_NET_V11
PRISMTEST_EXPORT ncclNet_v11_t ncclNetPlugin_v11 = {
    .name = "prismtest",
    .init = pt::init11,
    .devices = pt::devices,
    .getProperties = pt::getProperties,
    .listen = pt::listen11,
    .connect = pt::connect11,
    .accept = pt::acceptAny,
    .regMr = pt::regMrAny,
    .regMrDmaBuf = pt::regMrDmaBuf,
    .deregMr = pt::deregMrAny,
    .isend = pt::isend10,
    .irecv = pt::irecv10,
    .iflush = pt::iflush,
    .test = pt::testAny,
    .closeSend = pt::closeCommAny,
    .closeRecv = pt::closeCommAny,
    .closeListen = pt::closeListenAny,
    .getDeviceMr = pt::getDeviceMr,
    .irecvConsumed = pt::irecvConsumed,
    .makeVDevice = pt::makeVDevice,
    .finalize = pt::finalize11,
    .setNetAttr = pt::setNetAttr11,
};
#endif

#if PRISMTEST_NET_V10
PRISMTEST_EXPORT ncclNet_v10_t ncclNetPlugin_v10 = {
    .name = "prismtest",
    .init = pt::init10,
    .devices = pt::devices,
    .getProperties = pt::getProperties9,
    .listen = pt::listenAny,
    .connect = pt::connect10,
    .accept = pt::acceptAny,
    .regMr = pt::regMrAny,
    .regMrDmaBuf = pt::regMrDmaBuf,
    .deregMr = pt::deregMrAny,
    .isend = pt::isend10,
    .irecv = pt::irecv10,
    .iflush = pt::iflush,
    .test = pt::testAny,
    .closeSend = pt::closeCommAny,
    .closeRecv = pt::closeCommAny,
    .closeListen = pt::closeListenAny,
    .getDeviceMr = pt::getDeviceMr,
    .irecvConsumed = pt::irecvConsumed,
    .makeVDevice = pt::makeVDevice,
};
#endif

#if PRISMTEST_NET_V9
PRISMTEST_EXPORT ncclNet_v9_t ncclNetPlugin_v9 = {
    .name = "prismtest",
    .init = pt::init9,
    .devices = pt::devices,
    .getProperties = pt::getProperties9,
    .listen = pt::listenAny,
    .connect = pt::connect8,
    .accept = pt::acceptAny,
    .regMr = pt::regMrAny,
    .regMrDmaBuf = pt::regMrDmaBuf,
    .deregMr = pt::deregMrAny,
    .isend = pt::isendAny,
    .irecv = pt::irecvAny,
    .iflush = pt::iflush,
    .test = pt::testAny,
    .closeSend = pt::closeCommAny,
    .closeRecv = pt::closeCommAny,
    .closeListen = pt::closeListenAny,
    .getDeviceMr = pt::getDeviceMr,
    .irecvConsumed = pt::irecvConsumed,
    .makeVDevice = pt::makeVDevice,
};
#endif

#if PRISMTEST_NET_V8
PRISMTEST_EXPORT ncclNet_v8_t ncclNetPlugin_v8 = {
    .name = "prismtest",
    .init = pt::init8,
    .devices = pt::devices,
    .getProperties = pt::getProperties8,
    .listen = pt::listenAny,
    .connect = pt::connect8,
    .accept = pt::acceptAny,
    .regMr = pt::regMrAny,
    .regMrDmaBuf = pt::regMrDmaBuf,
    .deregMr = pt::deregMrAny,
    .isend = pt::isend8,
    .irecv = pt::irecv8,
    .iflush = pt::iflush,
    .test = pt::testAny,
    .closeSend = pt::closeCommAny,
    .closeRecv = pt::closeCommAny,
    .closeListen = pt::closeListenAny,
    .getDeviceMr = pt::getDeviceMr,
    .irecvConsumed = pt::irecvConsumed,
};
#endif

#if PRISMTEST_NET_DECOY
/// The "nosymbol" variant: a table of a version older than any Prism loads, so the loader
/// must report that no usable ncclNetPlugin_vN is exported. Never meant to be called.
struct PrismtestNetV5Decoy {
  const char* name;
  void* functions[20];
};
PRISMTEST_EXPORT PrismtestNetV5Decoy ncclNetPlugin_v5 = {"prismtest-v5", {}};
#endif

}  // extern "C"

// An NCCL network plugin, loaded once per process and seen through one interface whatever
// ABI version (8 to 11) it exports. The loader follows NCCL's rules: the library named by
// PRISM_NET_PLUGIN / NCCL_NET_PLUGIN (base/plugin_library.h), then the newest of
// ncclNetPlugin_v11, _v10, _v9 and _v8 it exports. Every call returns the plugin's own
// ncclResult_t; nothing here throws across a plugin call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "nccl.h"

namespace prism::net {

/// What the plugin says of one device, in the fields Prism uses.
struct DeviceProperties {
  std::string name;
  int speedMbps = 0;     ///< port speed
  double latencyUs = 0;  ///< one-way latency
  int ptrSupport = 0;    ///< NCCL_PTR_* flags
  int maxRecvs = 1;      ///< receives one irecv may group
  bool forceFlush = false;
  size_t maxMessageBytes = SIZE_MAX;  ///< the largest point-to-point message
};

/// One plugin, version-independent. Methods mirror the newest ABI; for older versions the
/// adapter converts sizes (v8 takes int) and drops arguments they lack.
class Plugin {
 public:
  virtual ~Plugin() = default;
  const std::string& name() const { return name_; }  ///< the table's name field
  const std::string& path() const { return path_; }  ///< the library file
  int version() const { return version_; }

  /// A per-communicator context: v11 initializes the plugin once per communicator
  /// (init(&ctx, commId, ...)); older versions were initialized once at load, and the
  /// context is null. `context` stays valid until closeContext().
  virtual ncclResult_t openContext(uint64_t commId, void** context) = 0;
  virtual void closeContext(void* context) = 0;

  virtual ncclResult_t devices(int* count) = 0;
  virtual ncclResult_t properties(int dev, DeviceProperties* out) = 0;
  virtual ncclResult_t listen(void* context, int dev, void* handle, void** listenComm) = 0;
  virtual ncclResult_t connect(void* context, int dev, void* handle, void** sendComm) = 0;
  virtual ncclResult_t accept(void* listenComm, void** recvComm) = 0;
  virtual ncclResult_t regMr(void* comm, void* data, size_t bytes, void** mhandle) = 0;
  virtual ncclResult_t deregMr(void* comm, void* mhandle) = 0;
  virtual ncclResult_t isend(void* sendComm, void* data, size_t bytes, int tag, void* mhandle,
                             void** request) = 0;
  /// One receive (n = 1) of at most `bytes`.
  virtual ncclResult_t irecv(void* recvComm, void* data, size_t bytes, int tag, void* mhandle,
                             void** request) = 0;
  virtual ncclResult_t test(void* request, int* done, size_t* bytes) = 0;
  virtual ncclResult_t closeSend(void* sendComm) = 0;
  virtual ncclResult_t closeRecv(void* recvComm) = 0;
  virtual ncclResult_t closeListen(void* listenComm) = 0;

 protected:
  Plugin(std::string name, std::string path, int version)
      : name_(std::move(name)), path_(std::move(path)), version_(version) {}

 private:
  std::string name_;
  std::string path_;
  int version_;
};

/// The outcome of loading the configured plugin, the same for the whole process (the first
/// call loads; later calls return the same result).
struct Loaded {
  std::shared_ptr<Plugin> plugin;  ///< null when none is usable
  /// Why none is usable: the library is missing, lacks every ncclNetPlugin_v8..v11 symbol,
  /// init failed, or it reports no device. Empty when a plugin is loaded.
  std::string why;
  /// True when no plugin was asked for and the default libnccl-net.so is simply absent, or
  /// the setting is "none": nothing worth a WARN.
  bool quiet = false;
};
const Loaded& loadPlugin();

/// Loads the plugin `name` names (by the same lookup rules) afresh, without caching or
/// logging: for tests of each way loading can fail.
Loaded loadPluginNamed(const std::string& name);

}  // namespace prism::net

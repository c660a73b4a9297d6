#include "transports/net_plugin/net_plugin.h"

#include <mutex>
#include <type_traits>

#include "base/config.h"
#include "base/log.h"
#include "base/plugin_library.h"
#include "prism/nccl_net_abi.h"

namespace prism::net {

namespace {

/// Version 8 counts bytes in int; larger messages cannot be expressed there.
bool fitsInt(size_t bytes) { return bytes <= static_cast<size_t>(INT32_MAX); }

/// One adapter per ABI version: `Table` is ncclNet_vN_t. The versions differ in init (once
/// per process before v11, per communicator from v11), in connect's arguments, in the width
/// of sizes (int in v8) and in profiler handles (v10 and later).
template <typename Table, int Version>
class Adapter final : public Plugin {
 public:
  Adapter(const Table* table, std::shared_ptr<PluginLibrary> library)
      : Plugin(table->name != nullptr ? table->name : "(unnamed)", library->path(), Version),
        table_(table),
        library_(std::move(library)) {}

  /// Versions before 11 initialize once, at load.
  ncclResult_t initOnce() {
    if constexpr (Version == 8 || Version == 9) {
      return table_->init(&pluginLog);
    } else if constexpr (Version == 10) {
      return table_->init(&pluginLog, nullptr);
    } else {
      return ncclSuccess;
    }
  }

  ncclResult_t openContext(uint64_t commId, void** context) override {
    *context = nullptr;
    if constexpr (Version >= 11) {
      ncclNetCommConfig_v11_t config{NCCL_NET_TRAFFIC_CLASS_UNDEF};
      return table_->init(context, commId, &config, &pluginLog, nullptr);
    } else {
      return ncclSuccess;
    }
  }
  void closeContext(void* context) override {
    if constexpr (Version >= 11) {
      if (context != nullptr && table_->finalize != nullptr) (void)table_->finalize(context);
    }
  }

  ncclResult_t devices(int* count) override { return table_->devices(count); }

  ncclResult_t properties(int dev, DeviceProperties* out) override {
    using Props = std::remove_pointer_t<decltype(propsType())>;
    Props props{};
    const ncclResult_t r = table_->getProperties(dev, &props);
    if (r != ncclSuccess) return r;
    out->name = props.name != nullptr ? props.name : name();
    out->speedMbps = props.speed;
    out->latencyUs = props.latency;
    out->ptrSupport = props.ptrSupport;
    out->maxRecvs = props.maxRecvs;
    if constexpr (Version >= 9) {
      out->forceFlush = props.forceFlush != 0;
      if (props.maxP2pBytes != 0) out->maxMessageBytes = props.maxP2pBytes;
    } else {
      out->maxMessageBytes = static_cast<size_t>(INT32_MAX);
    }
    return ncclSuccess;
  }

  ncclResult_t listen(void* context, int dev, void* handle, void** listenComm) override {
    if constexpr (Version >= 11) {
      return table_->listen(context, dev, handle, listenComm);
    } else {
      return table_->listen(dev, handle, listenComm);
    }
  }

  ncclResult_t connect(void* context, int dev, void* handle, void** sendComm) override {
    DeviceHandle* offload = nullptr;  // no device offload asked for
    if constexpr (Version >= 11) {
      return table_->connect(context, dev, handle, sendComm, &offload);
    } else if constexpr (Version == 10) {
      ncclNetCommConfig_v10_t config{NCCL_NET_TRAFFIC_CLASS_UNDEF};
      return table_->connect(dev, &config, handle, sendComm, &offload);
    } else {
      return table_->connect(dev, handle, sendComm, &offload);
    }
  }

  ncclResult_t accept(void* listenComm, void** recvComm) override {
    DeviceHandle* offload = nullptr;
    return table_->accept(listenComm, recvComm, &offload);
  }

  ncclResult_t regMr(void* comm, void* data, size_t bytes, void** mhandle) override {
    return table_->regMr(comm, data, bytes, NCCL_PTR_HOST, mhandle);
  }
  ncclResult_t deregMr(void* comm, void* mhandle) override {
    return table_->deregMr(comm, mhandle);
  }

  ncclResult_t isend(void* sendComm, void* data, size_t bytes, int tag, void* mhandle,
                     void** request) override {
    if constexpr (Version == 8) {
      if (!fitsInt(bytes)) return ncclInvalidArgument;
      return table_->isend(sendComm, data, static_cast<int>(bytes), tag, mhandle, request);
    } else if constexpr (Version == 9) {
      return table_->isend(sendComm, data, bytes, tag, mhandle, request);
    } else {
      return table_->isend(sendComm, data, bytes, tag, mhandle, nullptr, request);
    }
  }

  ncclResult_t irecv(void* recvComm, void* data, size_t bytes, int tag, void* mhandle,
                     void** request) override {
    void* buffers[1] = {data};
    int tags[1] = {tag};
    void* handles[1] = {mhandle};
    if constexpr (Version == 8) {
      if (!fitsInt(bytes)) return ncclInvalidArgument;
      int sizes[1] = {static_cast<int>(bytes)};
      return table_->irecv(recvComm, 1, buffers, sizes, tags, handles, request);
    } else if constexpr (Version == 9) {
      size_t sizes[1] = {bytes};
      return table_->irecv(recvComm, 1, buffers, sizes, tags, handles, request);
    } else {
      size_t sizes[1] = {bytes};
      void* profiler[1] = {nullptr};
      return table_->irecv(recvComm, 1, buffers, sizes, tags, handles, profiler, request);
    }
  }

  ncclResult_t test(void* request, int* done, size_t* bytes) override {
    int sizes[1] = {0};
    const ncclResult_t r = table_->test(request, done, sizes);
    if (r == ncclSuccess && *done != 0 && bytes != nullptr) {
      *bytes = static_cast<size_t>(sizes[0] < 0 ? 0 : sizes[0]);
    }
    return r;
  }

  ncclResult_t closeSend(void* sendComm) override { return table_->closeSend(sendComm); }
  ncclResult_t closeRecv(void* recvComm) override { return table_->closeRecv(recvComm); }
  ncclResult_t closeListen(void* listenComm) override { return table_->closeListen(listenComm); }

 private:
  using DeviceHandle = ncclNetDeviceHandle_v8_t;
  static auto propsType() {
    if constexpr (Version == 8) {
      return static_cast<ncclNetProperties_v8_t*>(nullptr);
    } else if constexpr (Version == 11) {
      return static_cast<ncclNetProperties_v11_t*>(nullptr);
    } else {
      return static_cast<ncclNetProperties_v9_t*>(nullptr);
    }
  }

  const Table* table_;
  std::shared_ptr<PluginLibrary> library_;  // keeps the code mapped while the table is used
};

/// Every function Prism calls must be present: a table with a null entry is refused at load
/// rather than crashing at the first call.
template <typename Table>
const char* missingFunction(const Table* t) {
  if (t->init == nullptr) return "init";
  if (t->devices == nullptr) return "devices";
  if (t->getProperties == nullptr) return "getProperties";
  if (t->listen == nullptr) return "listen";
  if (t->connect == nullptr) return "connect";
  if (t->accept == nullptr) return "accept";
  if (t->regMr == nullptr) return "regMr";
  if (t->deregMr == nullptr) return "deregMr";
  if (t->isend == nullptr) return "isend";
  if (t->irecv == nullptr) return "irecv";
  if (t->test == nullptr) return "test";
  if (t->closeSend == nullptr) return "closeSend";
  if (t->closeRecv == nullptr) return "closeRecv";
  if (t->closeListen == nullptr) return "closeListen";
  return nullptr;
}

template <typename Table, int Version>
std::shared_ptr<Plugin> tryVersion(const std::shared_ptr<PluginLibrary>& library,
                                   const char* symbol, std::string& why) {
  const auto* table = static_cast<const Table*>(library->symbol(symbol));
  if (table == nullptr) return nullptr;
  if (const char* missing = missingFunction(table)) {
    why = std::string(symbol) + " has no " + missing + " function";
    return nullptr;
  }
  auto adapter = std::make_shared<Adapter<Table, Version>>(table, library);
  if (const ncclResult_t r = adapter->initOnce(); r != ncclSuccess) {
    why = std::string(symbol) + " (" + adapter->name() + "): init failed with " +
          ncclGetErrorString(r);
    return nullptr;
  }
  return adapter;
}

/// The newest version the library exports, initialized; null with `why` set otherwise.
std::shared_ptr<Plugin> newestVersion(const std::shared_ptr<PluginLibrary>& library,
                                      std::string& why) {
  std::shared_ptr<Plugin> plugin;
  if ((plugin = tryVersion<ncclNet_v11_t, 11>(library, "ncclNetPlugin_v11", why)) || !why.empty()) {
    return plugin;
  }
  if ((plugin = tryVersion<ncclNet_v10_t, 10>(library, "ncclNetPlugin_v10", why)) || !why.empty()) {
    return plugin;
  }
  if ((plugin = tryVersion<ncclNet_v9_t, 9>(library, "ncclNetPlugin_v9", why)) || !why.empty()) {
    return plugin;
  }
  if ((plugin = tryVersion<ncclNet_v8_t, 8>(library, "ncclNetPlugin_v8", why)) || !why.empty()) {
    return plugin;
  }
  why =
      "exports none of ncclNetPlugin_v11, _v10, _v9, _v8 (the versions NCCL 2.28 accepts "
      "down to 8)";
  return nullptr;
}

/// v11 plugins answer devices() only after init, which they take per communicator: probe
/// them with a context of their own.
int deviceCount(Plugin& plugin, std::string& why) {
  void* context = nullptr;
  if (const ncclResult_t r = plugin.openContext(0, &context); r != ncclSuccess) {
    why = "init failed with " + std::string(ncclGetErrorString(r));
    return 0;
  }
  int count = 0;
  const ncclResult_t r = plugin.devices(&count);
  plugin.closeContext(context);
  if (r != ncclSuccess) {
    why = "devices() failed with " + std::string(ncclGetErrorString(r));
    return 0;
  }
  if (count <= 0) why = "reports no device";
  return count;
}

}  // namespace

Loaded loadPluginNamed(const std::string& name) {
  Loaded loaded;
  PluginLookup lookup = PluginLookup::open("libnccl-net", name);
  if (!lookup.library) {
    loaded.quiet = lookup.defaultAbsent || lookup.why == "disabled (none)";
    loaded.why = lookup.why;
    return loaded;
  }
  std::string why;
  std::shared_ptr<Plugin> plugin = newestVersion(lookup.library, why);
  if (plugin && deviceCount(*plugin, why) <= 0) plugin.reset();
  if (!plugin) {
    loaded.why = lookup.library->path() + ": " + why;
    return loaded;
  }
  loaded.plugin = std::move(plugin);
  return loaded;
}

const Loaded& loadPlugin() {
  static std::once_flag once;
  static Loaded loaded;
  std::call_once(once, [] {
    loaded = loadPluginNamed(config::getString(config::Setting::NetPlugin));
    if (loaded.plugin) {
      log::info(log::kInit | log::kNet, "NET/Plugin: loaded %s (ncclNetPlugin_v%d, from %s)",
                loaded.plugin->name().c_str(), loaded.plugin->version(),
                loaded.plugin->path().c_str());
    } else if (!loaded.quiet) {
      log::warn(
          "NET/Plugin: not using a network plugin: %s; Prism's own transports carry "
          "the traffic",
          loaded.why.c_str());
    }
  });
  return loaded;
}

}  // namespace prism::net

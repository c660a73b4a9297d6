#include "src/comm/tuner_plugin.h"

#include <cstring>
#include <map>
#include <mutex>
#include <utility>

#include "base/config.h"
#include "base/log.h"
#include "base/plugin_library.h"

namespace prism {

namespace {

constexpr const char* kSymbols[] = {"ncclTunerPlugin_v5", "ncclTunerPlugin_v4",
                                    "ncclTunerPlugin_v3", "ncclTunerPlugin_v2"};

}  // namespace

struct TunerPlugin::Impl {
  std::shared_ptr<PluginLibrary> library;
  int version = 0;
  std::string name;
  // The plugin's table, copied: its functions live as long as `library`.
  ncclTuner_v5_t v5{};
  ncclTuner_v4_t v4{};
  ncclTuner_v3_t v3{};
  ncclTuner_v2_t v2{};
};

TunerPlugin::TunerPlugin(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TunerPlugin::~TunerPlugin() = default;

int TunerPlugin::version() const { return impl_->version; }
const std::string& TunerPlugin::name() const { return impl_->name; }
const std::string& TunerPlugin::path() const { return impl_->library->path(); }

ncclResult_t TunerPlugin::init(const TunerInitArgs& args, void** context) const noexcept {
  try {
    const Impl& p = *impl_;
    switch (p.version) {
      case 5: {
        ncclNvlDomainInfo_v5_t domains{static_cast<int>(args.nNodes), args.minRanksPerNode,
                                       args.maxRanksPerNode};
        // Prism's model has constants of its own: NCCL's are passed zeroed, changes ignored.
        ncclTunerConstants_v5_t constants{};
        return p.v5.init(context, args.commId, args.nRanks, args.nNodes, pluginLog, &domains,
                         &constants);
      }
      case 4:
        return p.v4.init(args.nRanks, args.nNodes, pluginLog, context);
      case 3:
        return p.v3.init(args.nRanks, args.nNodes, pluginLog, context);
      default:
        return p.v2.init(args.nRanks, args.nNodes, pluginLog, context);
    }
  } catch (...) {
    return ncclInternalError;
  }
}

ncclResult_t TunerPlugin::getCollInfo(void* context, TunerCall& call) const noexcept {
  try {
    const Impl& p = *impl_;
    // NCCL hands versions 3 to 5 its float[algorithms][protocols] array cast to float**.
    auto** table = reinterpret_cast<float**>(call.table);
    switch (p.version) {
      case 5:
        return p.v5.getCollInfo(context, call.func, call.nBytes, 1, table, NCCL_NUM_ALGORITHMS_V5,
                                NCCL_NUM_PROTOCOLS_V5, 0, &call.nChannels);
      case 4:
        return p.v4.getCollInfo(context, call.func, call.nBytes, 1, table, NCCL_NUM_ALGORITHMS_V5,
                                NCCL_NUM_PROTOCOLS_V5, 0, &call.nChannels);
      case 3:
        return p.v3.getCollInfo(context, call.func, call.nBytes, 1, table, NCCL_NUM_ALGORITHMS_V5,
                                NCCL_NUM_PROTOCOLS_V5, &call.nChannels);
      default:
        return p.v2.getCollInfo(context, call.func, call.nBytes, call.collNetSupport ? 1 : 0, 0, 1,
                                &call.algorithm, &call.protocol, &call.nChannels);
    }
  } catch (...) {
    return ncclInternalError;
  }
}

ncclResult_t TunerPlugin::finalize(void* context) const noexcept {
  try {
    const Impl& p = *impl_;
    switch (p.version) {
      case 5:
        return p.v5.finalize != nullptr ? p.v5.finalize(context) : ncclSuccess;
      case 4:
        return p.v4.destroy != nullptr ? p.v4.destroy(context) : ncclSuccess;
      case 3:
        return p.v3.destroy != nullptr ? p.v3.destroy(context) : ncclSuccess;
      default:
        return p.v2.destroy != nullptr ? p.v2.destroy(context) : ncclSuccess;
    }
  } catch (...) {
    return ncclInternalError;
  }
}

namespace {

/// Copies the newest table `library` exports into `impl`; false when it exports none or
/// the table lacks init or getCollInfo (`why` says which).
bool adopt(TunerPlugin::Impl& impl, std::string& why) {
  for (const char* symbol : kSymbols) {
    void* table = impl.library->symbol(symbol);
    if (table == nullptr) continue;
    impl.version = symbol[std::strlen(symbol) - 1] - '0';
    const char* name = nullptr;
    bool complete = false;
    // Each version's table is copied into its own slot; the name is its first field.
    switch (impl.version) {
      case 5:
        std::memcpy(&impl.v5, table, sizeof(impl.v5));
        name = impl.v5.name;
        complete = impl.v5.init != nullptr && impl.v5.getCollInfo != nullptr;
        break;
      case 4:
        std::memcpy(&impl.v4, table, sizeof(impl.v4));
        name = impl.v4.name;
        complete = impl.v4.init != nullptr && impl.v4.getCollInfo != nullptr;
        break;
      case 3:
        std::memcpy(&impl.v3, table, sizeof(impl.v3));
        name = impl.v3.name;
        complete = impl.v3.init != nullptr && impl.v3.getCollInfo != nullptr;
        break;
      default:
        std::memcpy(&impl.v2, table, sizeof(impl.v2));
        name = impl.v2.name;
        complete = impl.v2.init != nullptr && impl.v2.getCollInfo != nullptr;
        break;
    }
    if (!complete) {
      why = std::string(symbol) + " has no init or getCollInfo function";
      return false;
    }
    impl.name = name != nullptr && name[0] != '\0' ? name : impl.library->path();
    return true;
  }
  why = "it exports none of ncclTunerPlugin_v5, _v4, _v3, _v2";
  return false;
}

/// Loads the plugin `name` names (the setting's value); null when there is none to use.
std::shared_ptr<const TunerPlugin> load(const std::string& name) {
  // The variable that named the plugin (PRISM_ or NCCL_TUNER_PLUGIN), for the log.
  const std::string source = config::source(config::Setting::TunerPlugin);
  const char* setting = name.empty() ? config::name(config::Setting::TunerPlugin) : source.c_str();
  PluginLookup lookup = PluginLookup::open("libnccl-tuner", name);
  bool quiet = false;  // a library found by default only may lack the symbol
  if (lookup.library == nullptr && lookup.defaultAbsent) {
    // As NCCL does: with no tuner library, the network plugin's library may carry one.
    lookup = PluginLookup::open("libnccl-net", config::getString(config::Setting::NetPlugin));
    quiet = true;
    if (lookup.library == nullptr) {
      log::info(log::kInit | log::kTuning,
                "no tuner plugin (%s unset, no libnccl-tuner.so or network plugin library): "
                "Prism selects on its own",
                setting);
      return nullptr;
    }
  } else if (lookup.library == nullptr) {
    if (lookup.why.rfind("disabled", 0) == 0) {
      log::info(log::kInit | log::kTuning, "tuner plugin disabled (%s=%s)", setting, name.c_str());
    } else {
      log::warn("tuner plugin '%s' (%s) cannot be loaded: %s; Prism selects on its own",
                name.c_str(), setting, lookup.why.c_str());
    }
    return nullptr;
  }
  auto impl = std::make_unique<TunerPlugin::Impl>();
  impl->library = std::move(lookup.library);
  std::string why;
  if (!adopt(*impl, why)) {
    if (quiet) {
      log::info(log::kInit | log::kTuning, "no tuner plugin in %s (%s)",
                impl->library->path().c_str(), why.c_str());
    } else {
      log::warn("tuner plugin %s cannot be used: %s; Prism selects on its own",
                impl->library->path().c_str(), why.c_str());
    }
    return nullptr;
  }
  auto plugin = std::make_shared<const TunerPlugin>(std::move(impl));
  log::info(log::kInit | log::kTuning, "tuner plugin %s (ncclTunerPlugin_v%d) loaded from %s",
            plugin->name().c_str(), plugin->version(), plugin->path().c_str());
  return plugin;
}

}  // namespace

std::shared_ptr<const TunerPlugin> tunerPlugin() {
  // Leaked on purpose: a communicator destroyed during exit may still finalize its tuner.
  static auto* mutex = new std::mutex;
  static auto* loaded = new std::map<std::string, std::shared_ptr<const TunerPlugin>>;
  const std::string name = config::getString(config::Setting::TunerPlugin);
  // Unset, the network plugin's setting decides too.
  const std::string key =
      name.empty() ? "\n" + config::getString(config::Setting::NetPlugin) : name;
  std::lock_guard<std::mutex> lock(*mutex);
  auto it = loaded->find(key);
  if (it == loaded->end()) it = loaded->emplace(key, load(name)).first;
  return it->second;
}

}  // namespace prism

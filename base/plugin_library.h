// Opening an NCCL plugin's shared object by NCCL's lookup rules, shared by the network and
// tuner plugin loaders. For a plugin kind with prefix P ("libnccl-net", "libnccl-tuner"):
// - a name that is set is tried as given (a file name dlopen searches for, or a path);
// - a name without '/' that is not already "lib...so" is then tried as "P-<name>.so";
// - an unset name tries "P.so", the kind's default library;
// - "none" (any case) loads nothing.
// Every name tried, and why it failed, is kept, so the caller's WARN says exactly what was
// looked for.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "prism/nccl_plugin_common.h"

namespace prism {

/// A dlopen'ed plugin library; closes it when the last owner lets go.
class PluginLibrary {
 public:
  ~PluginLibrary();
  PluginLibrary(const PluginLibrary&) = delete;
  PluginLibrary& operator=(const PluginLibrary&) = delete;

  /// The address of `symbol`, or null when the library does not export it.
  void* symbol(const char* symbol) const;
  /// The file the loader opened (its full path, from the dynamic linker).
  const std::string& path() const { return path_; }

 private:
  friend struct PluginLookup;
  PluginLibrary(void* handle, std::string path) : handle_(handle), path_(std::move(path)) {}
  void* handle_;
  std::string path_;
};

struct PluginLookup {
  std::shared_ptr<PluginLibrary> library;  ///< null when nothing was loaded
  /// Why nothing was loaded: "disabled by <setting>=none", or each name tried and the
  /// loader's reason ("libnccl-net-foo.so: cannot open shared object file: ...").
  std::string why;
  /// True when the name was unset and the default library is simply absent: NCCL treats
  /// that as normal, not as a problem worth a WARN.
  bool defaultAbsent = false;

  /// Looks `name` up for plugins whose files start with `prefix`. Never throws.
  static PluginLookup open(const std::string& prefix, const std::string& name);
};

/// The logger handed to every plugin's init: its WARN lines become Prism WARNs, its INFO
/// and TRACE lines Prism's under the subsystems it names (NET, TUNING, ...).
extern "C" void pluginLog(ncclDebugLogLevel level, unsigned long flags, const char* file, int line,
                          const char* fmt, ...);

}  // namespace prism

#include "base/plugin_library.h"

#include <dlfcn.h>
#include <link.h>
#include <strings.h>

#include <cstdarg>
#include <cstdio>
#include <utility>

#include "base/log.h"

namespace prism {

namespace {

bool endsWith(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

/// dlopen with the plugin's symbols kept local, so two plugins never see each other's.
void* tryOpen(const std::string& file, std::string& why) {
  void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* reason = dlerror();
    if (!why.empty()) why += "; ";
    why += reason != nullptr ? reason : (file + ": cannot be opened");
  }
  return handle;
}

std::string loadedPath(void* handle, const std::string& fallback) {
  link_map* map = nullptr;
  if (dlinfo(handle, RTLD_DI_LINKMAP, &map) == 0 && map != nullptr && map->l_name != nullptr &&
      map->l_name[0] != '\0') {
    return map->l_name;
  }
  return fallback;
}

}  // namespace

PluginLibrary::~PluginLibrary() { dlclose(handle_); }

void* PluginLibrary::symbol(const char* name) const { return dlsym(handle_, name); }

PluginLookup PluginLookup::open(const std::string& prefix, const std::string& name) {
  PluginLookup lookup;
  if (strcasecmp(name.c_str(), "none") == 0) {
    lookup.why = "disabled (none)";
    return lookup;
  }
  std::vector<std::string> candidates;
  if (name.empty()) {
    candidates.push_back(prefix + ".so");
  } else {
    candidates.push_back(name);
    const bool isPath = name.find('/') != std::string::npos;
    const bool isFileName = name.rfind("lib", 0) == 0 && endsWith(name, ".so");
    if (!isPath && !isFileName) candidates.push_back(prefix + "-" + name + ".so");
  }
  for (const std::string& file : candidates) {
    if (void* handle = tryOpen(file, lookup.why)) {
      lookup.library =
          std::shared_ptr<PluginLibrary>(new PluginLibrary(handle, loadedPath(handle, file)));
      lookup.why.clear();
      return lookup;
    }
  }
  lookup.defaultAbsent = name.empty();
  return lookup;
}

namespace {

void logLine(ncclDebugLogLevel level, unsigned long flags, const char* file, int line,
             const char* text) {
  // NCCL's subsystem bits below ENV are Prism's; the rest fold into INIT.
  const uint32_t subsys = static_cast<uint32_t>(flags) & 0xffu;
  const uint32_t mask = subsys != 0 ? subsys : log::kInit;
  switch (level) {
    case NCCL_LOG_WARN:
    case NCCL_LOG_ABORT:
      log::warn("plugin %s:%d: %s", file != nullptr ? file : "?", line, text);
      break;
    case NCCL_LOG_INFO:
      log::info(mask, "plugin: %s", text);
      break;
    case NCCL_LOG_TRACE:
      log::trace(mask, "plugin: %s", text);
      break;
    default:
      break;
  }
}

}  // namespace

extern "C" void pluginLog(ncclDebugLogLevel level, unsigned long flags, const char* file, int line,
                          const char* fmt, ...) {
  char text[1024];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(text, sizeof(text), fmt != nullptr ? fmt : "", args);
  va_end(args);
  // Called from a plugin's C code: nothing may escape.
  try {
    logLine(level, flags, file, line, text);
  } catch (...) {
  }
}

}  // namespace prism

#include "base/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>

#include "base/config.h"
#include "nccl.h"

#ifndef PRISM_VERSION_STRING
#define PRISM_VERSION_STRING "unknown"
#endif

namespace prism::log {

namespace {

constexpr const char* kLevelNames[] = {"NONE", "VERSION", "WARN", "INFO", "TRACE"};

struct SubsysName {
  const char* name;
  uint32_t bits;
};
constexpr SubsysName kSubsysNames[] = {
    {"INIT", kInit},   {"COLL", kColl},           {"P2P", kP2P},       {"SHM", kShm},
    {"NET", kNet},     {"GRAPH", kGraph},         {"TUNING", kTuning}, {"ENV", kEnv},
    {"ALLOC", kAlloc}, {"BOOTSTRAP", kBootstrap}, {"ALL", kAll},
};

// The settings, published with `ready` (release) so the hot path is a few relaxed loads.
// Invariant: a descriptor stored in `fd` is never closed, so a writer racing reset() can
// never write into a descriptor number that has been reused for something else. reset() is
// rare (ncclResetDebugInit), so the cost is one descriptor per reset with a file set.
struct State {
  std::atomic<bool> ready{false};
  std::atomic<int> level{0};
  std::atomic<uint32_t> mask{0};
  std::atomic<int> fd{STDERR_FILENO};
  std::atomic<bool> versionPrinted{false};
  std::mutex initMutex;     // serializes init and reset; never held while writing a line
  bool hostLoaded = false;  // host is written once, before the first `ready`, then only read
  char host[64] = "unknown";
};

State& state() {
  // Leaked on purpose: static destructors of other objects may still log at exit.
  static State* s = new State;
  return *s;
}

bool equalsIgnoreCase(const std::string& a, const char* b) {
  if (a.size() != std::strlen(b)) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(a[i])) != b[i]) return false;
  }
  return true;
}

std::string trim(const std::string& s) {
  size_t begin = s.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  return s.substr(begin, s.find_last_not_of(" \t") - begin + 1);
}

// Unknown text still turns logging on at WARN: the user asked for some logging.
Level parseLevel(const std::string& text, bool* unknown) {
  *unknown = false;
  std::string t = trim(text);
  if (t.empty()) return Level::None;
  for (int l = 1; l <= static_cast<int>(Level::Trace); ++l) {
    if (equalsIgnoreCase(t, kLevelNames[l])) return static_cast<Level>(l);
  }
  *unknown = true;
  return Level::Warn;
}

uint32_t parseSubsys(const std::string& text) {
  std::string t = trim(text);
  bool invert = !t.empty() && t[0] == '^';
  if (invert) t.erase(0, 1);
  uint32_t mask = 0;
  size_t pos = 0;
  while (pos <= t.size()) {
    size_t comma = t.find(',', pos);
    if (comma == std::string::npos) comma = t.size();
    std::string token = trim(t.substr(pos, comma - pos));
    for (const auto& s : kSubsysNames) {
      if (equalsIgnoreCase(token, s.name)) mask |= s.bits;
    }
    pos = comma + 1;
  }
  return invert ? ~mask : mask;
}

// %h: host name, %p: pid, %%: a percent sign.
std::string expandPath(const std::string& pattern, const char* host) {
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '%' && i + 1 < pattern.size()) {
      char c = pattern[++i];
      if (c == 'h') {
        out += host;
        continue;
      }
      if (c == 'p') {
        out += std::to_string(getpid());
        continue;
      }
      if (c != '%') out += '%';
      out += c;
      continue;
    }
    out += pattern[i];
  }
  return out;
}

void emit(Level level, const char* fmt, va_list ap);

void emitf(Level level, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  emit(level, fmt, ap);
  va_end(ap);
}

// Caller holds initMutex. Warnings about the settings themselves are returned, not written,
// because writing needs `ready` to be published first.
std::string loadSettings(State& s) {
  std::string problems;
  if (!s.hostLoaded) {
    if (gethostname(s.host, sizeof(s.host) - 1) != 0) std::strcpy(s.host, "unknown");
    s.host[sizeof(s.host) - 1] = '\0';
    if (char* dot = std::strchr(s.host, '.')) *dot = '\0';
    s.hostLoaded = true;
  }

  bool unknown = false;
  std::string levelText = config::getString(config::Setting::Debug);
  Level level = parseLevel(levelText, &unknown);
  if (unknown)
    problems += "unknown " + config::source(config::Setting::Debug) + " value \"" + levelText +
                "\"; using WARN. ";
  s.level.store(static_cast<int>(level), std::memory_order_relaxed);
  s.mask.store(parseSubsys(config::getString(config::Setting::DebugSubsys)),
               std::memory_order_relaxed);

  int fd = STDERR_FILENO;
  std::string file = config::getString(config::Setting::DebugFile);
  if (!file.empty() && level != Level::None) {
    std::string path = expandPath(file, s.host);
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
      problems +=
          "cannot open debug file " + path + ": " + std::strerror(errno) + "; logging to stderr. ";
      fd = STDERR_FILENO;
    }
  }
  s.fd.store(fd, std::memory_order_relaxed);
  return problems;
}

void initLocked(State& s) {
  std::string problems = loadSettings(s);
  s.ready.store(true, std::memory_order_release);
  if (!problems.empty()) emitf(Level::Warn, "%s", problems.c_str());
  if (s.level.load(std::memory_order_relaxed) >= static_cast<int>(Level::Version) &&
      !s.versionPrinted.exchange(true)) {
    emitf(Level::Version, "PRISM version %s (NCCL API %d.%d.%d)", PRISM_VERSION_STRING, NCCL_MAJOR,
          NCCL_MINOR, NCCL_PATCH);
  }
}

State& ready() {
  State& s = state();
  if (!s.ready.load(std::memory_order_acquire)) {
    std::lock_guard<std::mutex> lock(s.initMutex);
    if (!s.ready.load(std::memory_order_relaxed)) initLocked(s);
  }
  return s;
}

// Formats the whole line first and hands it to the kernel in one write(): with O_APPEND
// (or a pipe/tty and short lines) lines from threads and processes do not interleave.
void emit(Level level, const char* fmt, va_list ap) {
  State& s = state();
  char stackBuf[1024];
  int prefix = std::snprintf(stackBuf, sizeof(stackBuf), "%s:%d:%d PRISM %s ", s.host,
                             static_cast<int>(getpid()), static_cast<int>(gettid()),
                             kLevelNames[static_cast<int>(level)]);
  va_list copy;
  va_copy(copy, ap);
  int body = std::vsnprintf(stackBuf + prefix, sizeof(stackBuf) - prefix, fmt, copy);
  va_end(copy);
  if (body < 0) return;
  std::string heap;
  char* line = stackBuf;
  size_t length = static_cast<size_t>(prefix + body);
  if (length + 2 > sizeof(stackBuf)) {
    heap.assign(stackBuf, prefix);
    heap.resize(length + 2);
    std::vsnprintf(heap.data() + prefix, body + 1, fmt, ap);
    line = heap.data();
  }
  while (length > static_cast<size_t>(prefix) && line[length - 1] == '\n') --length;
  line[length++] = '\n';
  int fd = s.fd.load(std::memory_order_relaxed);
  for (size_t done = 0; done < length;) {
    ssize_t n = ::write(fd, line + done, length - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

}  // namespace

bool enabled(Level level, uint32_t subsys) {
  State& s = ready();
  int current = s.level.load(std::memory_order_relaxed);
  if (level == Level::None || static_cast<int>(level) > current) return false;
  if (level <= Level::Warn) return true;
  return (s.mask.load(std::memory_order_relaxed) & subsys) != 0;
}

void write(Level level, uint32_t subsys, const char* fmt, ...) {
  if (!enabled(level, subsys)) return;
  va_list ap;
  va_start(ap, fmt);
  emit(level, fmt, ap);
  va_end(ap);
}

void warn(const char* fmt, ...) {
  if (!enabled(Level::Warn, kAll)) return;
  va_list ap;
  va_start(ap, fmt);
  emit(Level::Warn, fmt, ap);
  va_end(ap);
}

void alert(const char* fmt, ...) {
  ready();  // the host name and destination, as for every other line
  va_list ap;
  va_start(ap, fmt);
  emit(Level::Warn, fmt, ap);
  va_end(ap);
}

void info(uint32_t subsys, const char* fmt, ...) {
  if (!enabled(Level::Info, subsys)) return;
  va_list ap;
  va_start(ap, fmt);
  emit(Level::Info, fmt, ap);
  va_end(ap);
}

void trace(uint32_t subsys, const char* fmt, ...) {
  if (!enabled(Level::Trace, subsys)) return;
  va_list ap;
  va_start(ap, fmt);
  emit(Level::Trace, fmt, ap);
  va_end(ap);
}

void reset() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.initMutex);
  s.ready.store(false, std::memory_order_relaxed);
  initLocked(s);
}

}  // namespace prism::log

// Logging in NCCL's manner: NCCL_DEBUG picks the level, NCCL_DEBUG_SUBSYS the subsystems,
// NCCL_DEBUG_FILE the destination (PRISM_ names take precedence). Lines look like
//   host:pid:tid PRISM WARN message
#pragma once

#include <cstdint>

namespace prism::log {

enum class Level : int { None = 0, Version = 1, Warn = 2, Info = 3, Trace = 4 };

/// Subsystems, as bit flags; names as in NCCL_DEBUG_SUBSYS.
enum Subsys : uint32_t {
  kInit = 1u << 0,
  kColl = 1u << 1,
  kP2P = 1u << 2,
  kShm = 1u << 3,
  kNet = 1u << 4,
  kGraph = 1u << 5,
  kTuning = 1u << 6,
  kEnv = 1u << 7,
  kAlloc = 1u << 8,
  kBootstrap = 1u << 9,
  kAll = ~0u,
};

/// Whether a message at `level` for `subsys` would be written. Cheap after the first call.
bool enabled(Level level, uint32_t subsys);

/// Writes one line if enabled. WARN is written for every subsystem.
void write(Level level, uint32_t subsys, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));

void warn(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
/// A WARN line written whatever NCCL_DEBUG says, unset included: for security events
/// (connections refused at the bootstrap root), which an operator must see. Callers
/// rate-limit it.
void alert(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void info(uint32_t subsys, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void trace(uint32_t subsys, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

/// Re-reads the settings (ncclResetDebugInit).
void reset();

}  // namespace prism::log

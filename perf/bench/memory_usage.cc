#include "perf/bench/memory_usage.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>

#include "perf/bench/formatf.h"

namespace prism::bench {

int64_t residentBytes() {
  long pages = 0, resident = 0;
  std::FILE* statm = std::fopen("/proc/self/statm", "r");
  if (statm == nullptr) return 0;
  const int read = std::fscanf(statm, "%ld %ld", &pages, &resident);
  std::fclose(statm);
  return read == 2 ? static_cast<int64_t>(resident) * sysconf(_SC_PAGESIZE) : 0;
}

int64_t peakResidentBytes() {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

std::string memoryString(int64_t bytes) {
  double amount = static_cast<double>(bytes);
  const char* unit = "B";
  for (const char* next : {"KB", "MB", "GB"}) {
    if (std::fabs(amount) < 1024.0) break;
    amount /= 1024.0;
    unit = next;
  }
  const int precision = std::fabs(amount) < 10.0 ? 2 : std::fabs(amount) < 100.0 ? 1 : 0;
  return formatf("%.*f %s", precision, amount, unit);
}

std::string formatMemoryUsage(int64_t initBytes, int64_t bufferBytes, int64_t collectiveBytes) {
  return formatf("# %-20s : Initialization %s | User-Allocated %s | Collective %s | Total  %s\n",
                 "Host memory usage", memoryString(initBytes).c_str(),
                 memoryString(bufferBytes).c_str(), memoryString(collectiveBytes).c_str(),
                 memoryString(initBytes + bufferBytes + collectiveBytes).c_str());
}

}  // namespace prism::bench

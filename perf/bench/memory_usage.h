// -M/--memory: how much host memory the ranks use, reported after the summary the way
// nccl-tests reports GPU memory: what initialization took, what the benchmark's buffers
// took, and what running the collectives added on top.
#pragma once

#include <cstdint>
#include <string>

namespace prism::bench {

/// This process's resident set now, in bytes (/proc/self/statm); 0 if unknown.
int64_t residentBytes();
/// The largest resident set this process has had, in bytes (getrusage).
int64_t peakResidentBytes();

/// Bytes as nccl-tests prints memory: B, KB, MB or GB (powers of 1024), with 2 decimals
/// below 10, 1 below 100, else none ("1.50 MB", "64.0 MB", "512 B", "0.00 B").
std::string memoryString(int64_t bytes);

/// "# Host memory usage    : Initialization X | User-Allocated Y | Collective Z | Total  T\n"
std::string formatMemoryUsage(int64_t initBytes, int64_t bufferBytes, int64_t collectiveBytes);

}  // namespace prism::bench

// Compares the ABI facts of NVIDIA's nccl.h with those of Prism's, entry by entry, and
// fails on any difference.
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

std::vector<std::pair<std::string, std::string>> nvidiaFacts();
std::vector<std::pair<std::string, std::string>> prismFacts();

int main() {
  const auto nvidia = nvidiaFacts();
  const auto prism = prismFacts();
  if (nvidia.size() != prism.size()) {
    std::printf("FAIL: %zu facts from NVIDIA's header, %zu from Prism's\n", nvidia.size(),
                prism.size());
    return 1;
  }
  int mismatches = 0;
  for (size_t i = 0; i < nvidia.size(); ++i) {
    if (nvidia[i] == prism[i]) continue;
    ++mismatches;
    std::printf("MISMATCH %s: NVIDIA %s, Prism %s\n", nvidia[i].first.c_str(),
                nvidia[i].second.c_str(), prism[i].second.c_str());
  }
  if (mismatches != 0) {
    std::printf("FAIL: %d of %zu ABI facts differ\n", mismatches, nvidia.size());
    return 1;
  }
  std::printf("OK: %zu ABI facts match NVIDIA's nccl.h\n", nvidia.size());
  return 0;
}

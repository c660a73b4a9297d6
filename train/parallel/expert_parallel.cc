#include "train/parallel/expert_parallel.h"

#include <algorithm>
#include <numeric>

namespace prism::train {

ExpertPlan ExpertParallel::plan(const std::vector<int>& expert, int experts) {
  const int n = ep_.size();
  const int perRank = experts / n;
  ExpertPlan p;
  p.capacity = static_cast<int>(expert.size());
  p.order.resize(expert.size());
  std::iota(p.order.begin(), p.order.end(), 0);
  std::stable_sort(p.order.begin(), p.order.end(),
                   [&](int a, int b) { return expert[a] / perRank < expert[b] / perRank; });
  p.sendCounts.assign(n, 0);
  const size_t slot = p.capacity + 1;
  std::vector<int32_t> meta(n * slot, 0), recv(n * slot, 0);
  for (int row : p.order) {
    const int d = expert[row] / perRank;
    meta[d * slot + 1 + p.sendCounts[d]++] = expert[row] % perRank;
  }
  for (int d = 0; d < n; ++d) meta[d * slot] = p.sendCounts[d];
  ep_.wait(ep_.allToAll(meta.data(), recv.data(), slot, ncclInt32));
  p.recvCounts.resize(n);
  for (int s = 0; s < n; ++s) {
    p.recvCounts[s] = recv[s * slot];
    for (int i = 0; i < p.recvCounts[s]; ++i) p.localExpert.push_back(recv[s * slot + 1 + i]);
  }
  return p;
}

void ExpertParallel::toExperts(const ExpertPlan& p, const Vec& rows, Vec& at, int width) {
  const int n = ep_.size();
  const size_t slot = static_cast<size_t>(p.capacity) * width;
  Vec send(n * slot, 0.0f), recv(n * slot);
  size_t next = 0;
  for (int d = 0; d < n; ++d)
    for (int i = 0; i < p.sendCounts[d]; ++i, ++next)
      std::copy_n(rows.begin() + static_cast<size_t>(p.order[next]) * width, width,
                  send.begin() + d * slot + static_cast<size_t>(i) * width);
  ep_.wait(ep_.allToAll(send.data(), recv.data(), slot, ncclFloat32));
  at.clear();
  for (int s = 0; s < n; ++s)
    at.insert(at.end(), recv.begin() + s * slot,
              recv.begin() + s * slot + static_cast<size_t>(p.recvCounts[s]) * width);
}

void ExpertParallel::fromExperts(const ExpertPlan& p, const Vec& at, Vec& rows, int width) {
  const int n = ep_.size();
  const size_t slot = static_cast<size_t>(p.capacity) * width;
  Vec send(n * slot, 0.0f), recv(n * slot);
  size_t offset = 0;
  for (int s = 0; s < n; ++s) {
    const size_t count = static_cast<size_t>(p.recvCounts[s]) * width;
    std::copy_n(at.begin() + offset, count, send.begin() + s * slot);
    offset += count;
  }
  ep_.wait(ep_.allToAll(send.data(), recv.data(), slot, ncclFloat32));
  rows.assign(p.order.size() * width, 0.0f);
  size_t next = 0;
  for (int d = 0; d < n; ++d)
    for (int i = 0; i < p.sendCounts[d]; ++i, ++next)
      std::copy_n(recv.begin() + d * slot + static_cast<size_t>(i) * width, width,
                  rows.begin() + static_cast<size_t>(p.order[next]) * width);
}

}  // namespace prism::train

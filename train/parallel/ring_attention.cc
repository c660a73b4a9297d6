#include "train/parallel/ring_attention.h"

#include <algorithm>

namespace prism::train {

std::vector<int> contextPositions(int seq, int cp, int rank) {
  const int chunk = seq / (2 * cp);
  std::vector<int> pos;
  for (int c : {rank, 2 * cp - 1 - rank})
    for (int i = 0; i < chunk; ++i) pos.push_back(c * chunk + i);
  return pos;
}

RingAttention::RingAttention(TracedComm& cp, int seq) : cp_(cp) {
  for (int r = 0; r < cp.size(); ++r) positions_.push_back(contextPositions(seq, cp.size(), r));
}

void RingAttention::shift(const float* send, float* recv, size_t count) {
  const int n = cp_.size(), r = cp_.rank();
  const PeerOp ops[] = {
      {PeerOp::Kind::Send, (r + 1) % n, const_cast<float*>(send), count, ncclFloat32},
      {PeerOp::Kind::Recv, (r + n - 1) % n, recv, count, ncclFloat32}};
  cp_.wait(cp_.batch(ops, Priority::High));
}

void RingAttention::forward(const AttnShape& s, const Vec& q, const Vec& k, const Vec& v, Vec& out,
                            Vec& lse) {
  const int n = cp_.size(), r = cp_.rank();
  const size_t kn = s.kSize();
  Vec cur(2 * kn), next(2 * kn);
  std::copy(k.begin(), k.end(), cur.begin());
  std::copy(v.begin(), v.end(), cur.begin() + kn);
  AttnState st;
  attnBegin(s, st);
  for (int step = 0; step < n; ++step) {
    const int src = (r + n - step) % n;
    Work inFlight;
    if (step + 1 < n) {
      const PeerOp ops[] = {
          {PeerOp::Kind::Send, (r + 1) % n, cur.data(), 2 * kn, ncclFloat32},
          {PeerOp::Kind::Recv, (r + n - 1) % n, next.data(), 2 * kn, ncclFloat32}};
      inFlight = cp_.batch(ops, Priority::High);
    }
    attnAccumulate(s, q.data(), cur.data(), cur.data() + kn, positions_[r].data(),
                   positions_[src].data(), st);
    if (step + 1 < n) {
      cp_.wait(inFlight);
      std::swap(cur, next);
    }
  }
  attnFinish(s, st, out, lse);
}

void RingAttention::backward(const AttnShape& s, const Vec& q, const Vec& k, const Vec& v,
                             const Vec& out, const Vec& lse, const Vec& dout, Vec& dq, Vec& dk,
                             Vec& dv) {
  const int n = cp_.size(), r = cp_.rank();
  const size_t kn = s.kSize();
  Vec delta;
  attnDelta(s, dout, out, delta);
  dq.assign(s.qSize(), 0.0f);
  // Block layout: k, v, dk, dv.
  Vec cur(4 * kn, 0.0f), next(4 * kn);
  std::copy(k.begin(), k.end(), cur.begin());
  std::copy(v.begin(), v.end(), cur.begin() + kn);
  for (int step = 0; step < n; ++step) {
    const int src = (r + n - step) % n;
    attnBlockBackward(s, q.data(), cur.data(), cur.data() + kn, positions_[r].data(),
                      positions_[src].data(), lse, delta, dout, dq.data(), cur.data() + 2 * kn,
                      cur.data() + 3 * kn);
    // The last hop carries only the gradients home.
    const size_t from = step + 1 < n ? 0 : 2 * kn;
    shift(cur.data() + from, next.data() + from, 4 * kn - from);
    std::swap(cur, next);
  }
  dk.assign(cur.begin() + 2 * kn, cur.begin() + 3 * kn);
  dv.assign(cur.begin() + 3 * kn, cur.end());
}

}  // namespace prism::train

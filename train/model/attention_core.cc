#include "train/model/attention_core.h"

#include <cmath>
#include <limits>

namespace prism::train {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

size_t tokenOffset(const AttnShape& s, int b, int t, int tokens, int h) {
  return ((static_cast<size_t>(b) * tokens + t) * s.heads + h) * s.dh;
}

float dot(const float* a, const float* b, int n) {
  float sum = 0.0f;
  for (int i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

}  // namespace

void attnBegin(const AttnShape& s, AttnState& st) {
  st.m.assign(s.rowStats(), kNegInf);
  st.l.assign(s.rowStats(), 0.0f);
  st.acc.assign(s.qSize(), 0.0f);
}

void attnAccumulate(const AttnShape& s, const float* q, const float* k, const float* v,
                    const int* qpos, const int* kpos, AttnState& st) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.dh));
  Vec scores(s.tk);
  for (int b = 0; b < s.batch; ++b)
    for (int h = 0; h < s.heads; ++h)
      for (int i = 0; i < s.tq; ++i) {
        const float* qi = q + tokenOffset(s, b, i, s.tq, h);
        float blockMax = kNegInf;
        for (int j = 0; j < s.tk; ++j) {
          scores[j] = kpos[j] <= qpos[i] ? dot(qi, k + tokenOffset(s, b, j, s.tk, h), s.dh) * scale
                                         : kNegInf;
          blockMax = std::max(blockMax, scores[j]);
        }
        if (blockMax == kNegInf) continue;  // every key of this block is in the future
        const size_t r = (static_cast<size_t>(b) * s.heads + h) * s.tq + i;
        const float mNew = std::max(st.m[r], blockMax);
        const float correction = std::exp(st.m[r] - mNew);
        float* acc = st.acc.data() + tokenOffset(s, b, i, s.tq, h);
        float l = st.l[r] * correction;
        for (int d = 0; d < s.dh; ++d) acc[d] *= correction;
        for (int j = 0; j < s.tk; ++j) {
          if (scores[j] == kNegInf) continue;
          const float p = std::exp(scores[j] - mNew);
          l += p;
          const float* vj = v + tokenOffset(s, b, j, s.tk, h);
          for (int d = 0; d < s.dh; ++d) acc[d] += p * vj[d];
        }
        st.m[r] = mNew;
        st.l[r] = l;
      }
}

void attnFinish(const AttnShape& s, const AttnState& st, Vec& out, Vec& lse) {
  out.assign(s.qSize(), 0.0f);
  lse.assign(s.rowStats(), 0.0f);
  for (int b = 0; b < s.batch; ++b)
    for (int h = 0; h < s.heads; ++h)
      for (int i = 0; i < s.tq; ++i) {
        const size_t r = (static_cast<size_t>(b) * s.heads + h) * s.tq + i;
        const size_t o = tokenOffset(s, b, i, s.tq, h);
        // Causality guarantees every query sees at least itself, so l > 0.
        for (int d = 0; d < s.dh; ++d) out[o + d] = st.acc[o + d] / st.l[r];
        lse[r] = st.m[r] + std::log(st.l[r]);
      }
}

void attnDelta(const AttnShape& s, const Vec& dout, const Vec& out, Vec& delta) {
  delta.assign(s.rowStats(), 0.0f);
  for (int b = 0; b < s.batch; ++b)
    for (int h = 0; h < s.heads; ++h)
      for (int i = 0; i < s.tq; ++i) {
        const size_t o = tokenOffset(s, b, i, s.tq, h);
        delta[(static_cast<size_t>(b) * s.heads + h) * s.tq + i] =
            dot(dout.data() + o, out.data() + o, s.dh);
      }
}

void attnBlockBackward(const AttnShape& s, const float* q, const float* k, const float* v,
                       const int* qpos, const int* kpos, const Vec& lse, const Vec& delta,
                       const Vec& dout, float* dq, float* dk, float* dv) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.dh));
  for (int b = 0; b < s.batch; ++b)
    for (int h = 0; h < s.heads; ++h)
      for (int i = 0; i < s.tq; ++i) {
        const size_t r = (static_cast<size_t>(b) * s.heads + h) * s.tq + i;
        const size_t qo = tokenOffset(s, b, i, s.tq, h);
        const float* qi = q + qo;
        const float* doi = dout.data() + qo;
        for (int j = 0; j < s.tk; ++j) {
          if (kpos[j] > qpos[i]) continue;
          const size_t ko = tokenOffset(s, b, j, s.tk, h);
          const float p = std::exp(dot(qi, k + ko, s.dh) * scale - lse[r]);
          const float dp = dot(doi, v + ko, s.dh);
          const float ds = p * (dp - delta[r]) * scale;
          for (int d = 0; d < s.dh; ++d) {
            dv[ko + d] += p * doi[d];
            dq[qo + d] += ds * k[ko + d];
            dk[ko + d] += ds * qi[d];
          }
        }
      }
}

}  // namespace prism::train

// Traffic accounting: the calls and bytes of each collective in one step equal what the
// mode's formula says, computed here from the model dimensions alone. Bytes are per-rank
// buffer sizes (see parallel/traced_comm.h).
#include "train/tests/train_harness.h"

namespace prism::train {
namespace {

using testing::runRanks;
using testing::tinyOptions;
using Entry = CommStats::Entry;

constexpr int64_t kFloat = 4;

struct Dims {
  int64_t L, H, F, V, T, B, E;
  explicit Dims(const Options& o)
      : L(o.model.layers),
        H(o.model.hidden),
        F(o.model.ffn()),
        V(o.model.vocab),
        T(o.model.seq),
        B(o.train.batch),
        E(o.model.experts) {}
  int64_t embedding() const { return V * H + T * H; }
  int64_t head() const { return 2 * H + H * V; }
  int64_t attention() const { return 4 * H * H + 4 * H; }
  int64_t block() const { return 4 * H + attention() + 2 * H * F + F + H; }
  /// Parameters of each group: embedding, blocks, head.
  std::vector<int64_t> groups() const {
    std::vector<int64_t> g{embedding()};
    for (int i = 0; i < L; ++i) g.push_back(block());
    g.push_back(head());
    return g;
  }
};

int64_t sum(const std::vector<int64_t>& v) {
  int64_t s = 0;
  for (int64_t x : v) s += x;
  return s;
}

int64_t paddedSum(const std::vector<int64_t>& v, int64_t parts) {
  int64_t s = 0;
  for (int64_t x : v) s += (x + parts - 1) / parts * parts;
  return s;
}

// The first step's traffic on every rank.
std::vector<CommStats> firstStep(Options o) {
  o.train.steps = 1;
  applyMode(o);
  std::vector<CommStats> out;
  for (auto& r : runRanks(o, o.worldSize())) out.push_back(r.at(0).comm);
  return out;
}

void expectTraffic(const CommStats& s, const std::map<std::string, Entry>& want) {
  ASSERT_EQ(s.byType.size(), want.size());
  for (const auto& [type, e] : want) {
    ASSERT_TRUE(s.byType.count(type)) << type;
    EXPECT_EQ(s.byType.at(type).calls, e.calls) << type;
    EXPECT_EQ(s.byType.at(type).bytes, e.bytes) << type;
  }
}

TEST(Traffic, DataParallelAllReducesAllGradientsOnce) {
  Options o = tinyOptions(Mode::Dp);
  o.mesh.dp = 2;
  const Dims d(o);
  for (const CommStats& s : firstStep(o)) {
    // Gradient buckets: every gradient exactly once, in at least two buckets (the first
    // one is capped at 64 KiB so that it launches early) and at most one per group.
    ASSERT_EQ(s.byType.size(), 1u);
    EXPECT_EQ(s.byType.at("allReduce").bytes, sum(d.groups()) * kFloat);
    EXPECT_GE(s.byType.at("allReduce").calls, 2);
    EXPECT_LE(s.byType.at("allReduce").calls, d.L + 2);
  }
}

TEST(Traffic, ZeroStages) {
  for (Mode mode : {Mode::Zero1, Mode::Zero2, Mode::Zero3}) {
    Options o = tinyOptions(mode);
    o.mesh.dp = 4;
    const Dims d(o);
    const int64_t groups = d.L + 2, bytes = paddedSum(d.groups(), 4) * kFloat;
    std::map<std::string, Entry> want;
    if (mode == Mode::Zero1)
      want = {{"allReduce", {groups, bytes}}, {"allGather", {groups, bytes}}};
    if (mode == Mode::Zero2)
      want = {{"reduceScatter", {groups, bytes}}, {"allGather", {groups, bytes}}};
    // ZeRO-3: parameters gathered for the forward and again for the backward pass.
    if (mode == Mode::Zero3)
      want = {{"reduceScatter", {groups, bytes}}, {"allGather", {2 * groups, 2 * bytes}}};
    SCOPED_TRACE(modeName(mode));
    for (const CommStats& s : firstStep(o)) expectTraffic(s, want);
  }
}

TEST(Traffic, TensorParallelTwoPlusTwoAllReducesPerLayer) {
  Options o = tinyOptions(Mode::Tp);
  o.mesh.tp = 2;
  const Dims d(o);
  const int64_t activation = d.B * d.T * d.H * kFloat;
  for (const CommStats& s : firstStep(o))
    expectTraffic(s, {{"allReduce", {4 * d.L, 4 * d.L * activation}}});
}

TEST(Traffic, SequenceParallelGathersAndScatters) {
  Options o = tinyOptions(Mode::Sp);
  o.mesh.tp = 2;
  const Dims d(o);
  const int64_t activation = d.B * d.T * d.H * kFloat;
  // Replicated parameters see only this rank's tokens: their gradients are summed over tp.
  const int64_t replicated = d.embedding() + d.L * 6 * d.H + d.head();
  for (const CommStats& s : firstStep(o))
    expectTraffic(s, {{"allGather", {4 * d.L, 4 * d.L * activation}},
                      {"reduceScatter", {4 * d.L, 4 * d.L * activation}},
                      {"allReduce", {d.L + 2, replicated * kFloat}}});
}

TEST(Traffic, PipelineSendsActivationsAndGradients) {
  for (PipeSchedule schedule : {PipeSchedule::GPipe, PipeSchedule::OneFOneB}) {
    Options o = tinyOptions(Mode::Pp);
    o.mesh.pp = 2;
    o.microbatches = 4;
    o.schedule = schedule;
    const Dims d(o);
    const int64_t activation = d.B / 4 * d.T * d.H * kFloat;
    for (const CommStats& s : firstStep(o)) {
      ASSERT_EQ(s.byType.size(), 1u);
      // Each stage sends 4 activations and receives 4 gradients, or the reverse.
      EXPECT_EQ(s.byType.at("sendRecv").bytes, 2 * 4 * activation);
      EXPECT_LE(s.byType.at("sendRecv").calls, 8);
    }
  }
}

TEST(Traffic, ContextParallelRingPassesKeyValueBlocks) {
  Options o = tinyOptions(Mode::Cp);
  o.mesh.cp = 2;
  const Dims d(o);
  const int64_t kv = d.B * (d.T / 2) * d.H * kFloat;  // one K or V block of a rank
  // Forward: one hop of K and V. Backward: K, V, dK, dV, then the gradients home. Each hop
  // counts what is sent plus what is received. Every gradient is partial over cp and is
  // summed once per group.
  const int64_t perLayer = 2 * (2 * kv) + 2 * (4 * kv) + 2 * (2 * kv);
  for (const CommStats& s : firstStep(o))
    expectTraffic(s, {{"sendRecv", {3 * d.L, d.L * perLayer}},
                      {"allReduce", {d.L + 2, sum(d.groups()) * kFloat}}});
}

TEST(Traffic, ExpertParallelAllToAllPerMoeLayer) {
  Options o = tinyOptions(Mode::Ep);
  o.mesh.ep = 2;
  const Dims d(o);
  const int64_t ep = 2, rows = d.B / ep * d.T * 2;  // tokens per rank * top-2
  const int64_t meta = ep * (rows + 1) * 4, data = ep * rows * d.H * kFloat;
  const int64_t nonExpert = d.embedding() + d.head() + d.L * (4 * d.H + d.attention() + d.H * d.E);
  for (const CommStats& s : firstStep(o)) {
    // Forward: row counts and expert ids, dispatch, combine; backward: dispatch, combine.
    ASSERT_EQ(s.byType.size(), 2u);
    EXPECT_EQ(s.byType.at("allToAll").calls, 5 * d.L);
    EXPECT_EQ(s.byType.at("allToAll").bytes, d.L * (meta + 4 * data));
    // Expert weights are never reduced: dp == ep and every token reached its expert.
    EXPECT_EQ(s.byType.at("allReduce").bytes, nonExpert * kFloat);
  }
}

}  // namespace
}  // namespace prism::train

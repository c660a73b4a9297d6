// Loss parity: every parallel mode trains the same model on the same global batch as the
// single-rank reference, so its per-step losses must match within 1e-5 relative (the
// summation order of reductions differs, so bitwise equality is not expected in general).
#include <cmath>
#include <cstdio>

#include "train/tests/train_harness.h"

namespace prism::train {
namespace {

using testing::expectParity;
using testing::tinyOptions;

struct Case {
  const char* name;
  Mode mode;
  MeshShape mesh;
  int microbatches = 1;
  PipeSchedule schedule = PipeSchedule::OneFOneB;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class Parity : public ::testing::TestWithParam<Case> {};

TEST_P(Parity, LossesMatchSingleRank) {
  const Case& c = GetParam();
  Options o = tinyOptions(c.mode);
  o.mesh = c.mesh;
  o.microbatches = c.microbatches;
  o.schedule = c.schedule;
  applyMode(o);
  expectParity(o, o.worldSize());
}

INSTANTIATE_TEST_SUITE_P(
    Modes, Parity,
    ::testing::Values(Case{"single", Mode::Single, {}}, Case{"dp2", Mode::Dp, {.dp = 2}},
                      Case{"dp4", Mode::Dp, {.dp = 4}}, Case{"zero1", Mode::Zero1, {.dp = 2}},
                      Case{"zero2", Mode::Zero2, {.dp = 4}}, Case{"zero3", Mode::Zero3, {.dp = 2}},
                      Case{"zero3_4", Mode::Zero3, {.dp = 4}}, Case{"tp2", Mode::Tp, {.tp = 2}},
                      Case{"tp4", Mode::Tp, {.tp = 4}}, Case{"sp2", Mode::Sp, {.tp = 2}},
                      Case{"sp4", Mode::Sp, {.tp = 4}},
                      Case{"pp2_gpipe", Mode::Pp, {.pp = 2}, 4, PipeSchedule::GPipe},
                      Case{"pp2_1f1b", Mode::Pp, {.pp = 2}, 4, PipeSchedule::OneFOneB},
                      Case{"pp4_1f1b", Mode::Pp, {.pp = 4}, 8, PipeSchedule::OneFOneB},
                      Case{"cp2", Mode::Cp, {.cp = 2}}, Case{"cp4", Mode::Cp, {.cp = 4}},
                      Case{"ep2", Mode::Ep, {.ep = 2}}, Case{"ep4", Mode::Ep, {.ep = 4}},
                      Case{"hybrid_dp2_tp2_pp2", Mode::Hybrid, {.dp = 2, .tp = 2, .pp = 2}, 2},
                      Case{"hybrid_dp2_cp2_pp2_gpipe",
                           Mode::Hybrid,
                           {.dp = 2, .pp = 2, .cp = 2},
                           2,
                           PipeSchedule::GPipe}),
    [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

// ZeRO at a data-parallel degree that divides neither the parameter counts nor the
// batch's default: every shard is padded, and a shard size computed from the unpadded
// count loses or overlaps elements.
TEST(Parity, ZeroAtThreeRanksWithPaddedShards) {
  for (Mode mode : {Mode::Zero1, Mode::Zero2, Mode::Zero3}) {
    Options o = tinyOptions(mode, 8);
    o.mesh = {.dp = 3};
    o.train.batch = 6;
    applyMode(o);
    expectParity(o, o.worldSize());
  }
}

TEST(Parity, HybridWithSequenceParallelAndZero) {
  Options o = tinyOptions(Mode::Hybrid);
  o.mesh = {.dp = 2, .tp = 2, .pp = 2};
  o.sequenceParallel = true;
  o.zeroStage = 3;
  o.microbatches = 2;
  expectParity(o, 8);
}

}  // namespace
}  // namespace prism::train

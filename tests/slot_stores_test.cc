// Writes into shared-memory FIFO slots (PRISM_SLOT_STORES): with plain stores or streaming
// stores, every collective on the FIFO plans gives the reference result. Counts make slot
// pieces just above and below the 64 KiB from which a streaming sender streams, with
// unaligned tails, and span several slots; PreMulSum takes the sender's scaling path.
#include <gtest/gtest.h>

#include <array>
#include <ostream>
#include <string>

#include "nccl.h"
#include "tests/harness/collective_check.h"
#include "tests/harness/matrix.h"
#include "tests/harness/rank_runner.h"
#include "tests/harness/scoped_env.h"

namespace prism::test {
namespace {

constexpr std::array<Coll, 6> kColls = {Coll::AllReduce,     Coll::AllGather, Coll::Broadcast,
                                        Coll::ReduceScatter, Coll::AllToAll,  Coll::Reduce};

MatrixScope slotScope() {
  return {{ncclFloat32, ncclBfloat16, ncclInt32},
          {RefOp::Sum, RefOp::Max, RefOp::PreMulSum},
          {0, 1, 16381, 16384 + 3, 300007}};
}

// Outputs of 4 MiB and more are written with streaming stores too, also by the send that
// carries the next step's copy (ring AllGather, Broadcast's root); odd bf16 counts put
// blocks off 16-byte alignment.
MatrixScope largeScope() { return {{ncclFloat32, ncclBfloat16}, {RefOp::Sum}, {1048576 + 5}}; }

struct Case {
  const char* stores;
  int nranks;
  Mode mode;
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.stores << ", " << c.nranks << (c.mode == Mode::Processes ? " processes" : " threads");
}

class SlotStores : public ::testing::TestWithParam<Case> {};

TEST_P(SlotStores, EveryCollectiveMatchesTheReference) {
  const Case& c = GetParam();
  testing::ScopedEnv stores("PRISM_SLOT_STORES", c.stores);
  testing::ScopedEnv fifo("PRISM_DIRECT_MIN_BYTES", "0");  // thread ranks too
  runCollectiveMatrix(c.nranks, c.mode, kColls, slotScope());
  runCollectiveMatrix(c.nranks, c.mode, kColls, largeScope());
}

std::string caseName(const ::testing::TestParamInfo<Case>& info) {
  return std::string(info.param.stores) + "_n" + std::to_string(info.param.nranks) +
         (info.param.mode == Mode::Processes ? "_processes" : "_threads");
}

INSTANTIATE_TEST_SUITE_P(Stores, SlotStores,
                         ::testing::Values(Case{"streaming", 2, Mode::Processes},
                                           Case{"streaming", 3, Mode::Processes},
                                           Case{"streaming", 5, Mode::Threads},
                                           Case{"plain", 2, Mode::Processes},
                                           Case{"plain", 3, Mode::Threads}),
                         caseName);

}  // namespace
}  // namespace prism::test

#include "tests/harness/route_check.h"

#include <string>
#include <vector>

#include "prism/comm.hpp"
#include "src/api/handle.h"
#include "src/comm/communicator.h"

namespace prism::test {

namespace {

/// Rank r contributes r + 1 + i % 7 at element i, so the sum is exact in float.
void fill(std::vector<float>& send, int rank) {
  for (size_t i = 0; i < send.size(); ++i) send[i] = static_cast<float>(rank + 1 + i % 7);
}

float expectedSum(size_t i, int nranks) {
  float sum = 0;
  for (int r = 0; r < nranks; ++r) sum += static_cast<float>(r + 1 + i % 7);
  return sum;
}

}  // namespace

void requireEveryRoadTakes(RankContext& ctx, Path expected, size_t count) {
  Communicator& comm = ctx.comm->get();
  std::vector<float> send(count);
  std::vector<float> recv(count);
  fill(send, ctx.rank);
  // `others`: operations of the group besides the AllReduce that take the plan path.
  auto issue = [&](const std::string& how, auto&& call, uint64_t others = 0) {
    std::fill(recv.begin(), recv.end(), -1.0f);
    const uint64_t before = comm.routedTo(expected);
    call();
    const uint64_t plus = 1 + (expected == Path::Plan ? others : 0);
    ctx.require(comm.routedTo(expected) == before + plus,
                how + ": the AllReduce did not take the " + pathName(expected) + " path");
    for (size_t i = 0; i < count; ++i) {
      if (recv[i] != expectedSum(i, ctx.nranks)) {
        ctx.fail(how + ": element " + std::to_string(i) + " is " + std::to_string(recv[i]) +
                 ", expected " + std::to_string(expectedSum(i, ctx.nranks)));
      }
    }
  };
  issue("a lone C call", [&] {
    ctx.requireOk(
        ncclAllReduce(send.data(), recv.data(), count, ncclFloat32, ncclSum, ctx.comm, nullptr),
        "ncclAllReduce");
  });
  issue("a grouped C call", [&] {
    ctx.requireOk(ncclGroupStart(), "ncclGroupStart");
    ctx.requireOk(
        ncclAllReduce(send.data(), recv.data(), count, ncclFloat32, ncclSum, ctx.comm, nullptr),
        "ncclAllReduce");
    ctx.requireOk(ncclGroupEnd(), "ncclGroupEnd");
  });
  // Beside a ring exchange in the same group: the AllReduce's path must not depend on
  // what else the group holds, or ranks would disagree.
  int token = ctx.rank;
  int got = -1;
  issue(
      "a C call grouped with point-to-point messages",
      [&] {
        ctx.requireOk(ncclGroupStart(), "ncclGroupStart");
        ctx.requireOk(
            ncclAllReduce(send.data(), recv.data(), count, ncclFloat32, ncclSum, ctx.comm, nullptr),
            "ncclAllReduce");
        ctx.requireOk(
            ncclSend(&token, 1, ncclInt32, (ctx.rank + 1) % ctx.nranks, ctx.comm, nullptr),
            "ncclSend");
        ctx.requireOk(ncclRecv(&got, 1, ncclInt32, (ctx.rank + ctx.nranks - 1) % ctx.nranks,
                               ctx.comm, nullptr),
                      "ncclRecv");
        ctx.requireOk(ncclGroupEnd(), "ncclGroupEnd");
      },
      2);
  ctx.require(got == (ctx.rank + ctx.nranks - 1) % ctx.nranks,
              "the grouped ring exchange delivered " + std::to_string(got));
  Comm native = Comm::adopt(ctx.comm);
  ctx.comm = nullptr;
  issue("a native call",
        [&] { native.allReduce(send.data(), recv.data(), count, ncclFloat32, ncclSum).wait(); });
}

}  // namespace prism::test

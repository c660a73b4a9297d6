// Every function the public headers declare is exported: this program includes every
// public header of libprism.so (nccl.h, prism/*.h, prism/*.hpp) and of libprism_overlap.so
// (train/overlap/*.hpp), refers to every function and member function they declare that
// is not defined inline (constructors and destructors by using them), and is linked only
// against those two shared libraries. A declaration whose symbol a version script hides
// (src/api/exports.map, train/overlap/exports.map) is an undefined reference, and the
// link fails naming it, as it would for any program using that header. At run time it
// also checks that both libraries load and resolve. A new declaration belongs here too.
#include <cstdio>
#include <memory>
#include <span>

#include "nccl.h"
#include "prism/collective.hpp"
#include "prism/comm.hpp"
#include "prism/prism.h"
#include "train/overlap/grad_bucketer.hpp"
#include "train/overlap/overlap.hpp"
#include "train/overlap/overlap_meter.hpp"
#include "train/overlap/param_prefetcher.hpp"
#include "train/overlap/pipeline_scheduler.hpp"
#include "train/overlap/tensor.hpp"

namespace {

int referenced = 0;

/// Keeps `address` (of a function or member function) in the program: the compiler must
/// emit a relocation against its symbol.
template <class T>
void keep(T address) {
  asm volatile("" : : "r"(&address) : "memory");
  ++referenced;
}

// nccl.h: every function, and its "p"-prefixed profiling twin.
#define KEEP_NCCL(name) \
  keep(&name);          \
  keep(&p##name)

void ncclApi() {
  KEEP_NCCL(ncclMemAlloc);
  KEEP_NCCL(ncclMemFree);
  KEEP_NCCL(ncclGetVersion);
  KEEP_NCCL(ncclGetUniqueId);
  KEEP_NCCL(ncclCommInitRankConfig);
  KEEP_NCCL(ncclCommInitRank);
  KEEP_NCCL(ncclCommInitAll);
  KEEP_NCCL(ncclCommInitRankScalable);
  KEEP_NCCL(ncclCommFinalize);
  KEEP_NCCL(ncclCommDestroy);
  KEEP_NCCL(ncclCommAbort);
  KEEP_NCCL(ncclCommRevoke);
  KEEP_NCCL(ncclCommSplit);
  KEEP_NCCL(ncclCommShrink);
  KEEP_NCCL(ncclGetErrorString);
  KEEP_NCCL(ncclGetLastError);
  KEEP_NCCL(ncclResetDebugInit);
  KEEP_NCCL(ncclCommGetAsyncError);
  KEEP_NCCL(ncclCommCount);
  KEEP_NCCL(ncclCommCuDevice);
  KEEP_NCCL(ncclCommUserRank);
  KEEP_NCCL(ncclCommRegister);
  KEEP_NCCL(ncclCommDeregister);
  KEEP_NCCL(ncclCommWindowRegister);
  KEEP_NCCL(ncclCommWindowDeregister);
  KEEP_NCCL(ncclRedOpCreatePreMulSum);
  KEEP_NCCL(ncclRedOpDestroy);
  KEEP_NCCL(ncclReduce);
  KEEP_NCCL(ncclBcast);
  KEEP_NCCL(ncclBroadcast);
  KEEP_NCCL(ncclAllReduce);
  KEEP_NCCL(ncclReduceScatter);
  KEEP_NCCL(ncclAllGather);
  KEEP_NCCL(ncclAlltoAll);
  KEEP_NCCL(ncclGather);
  KEEP_NCCL(ncclScatter);
  KEEP_NCCL(ncclSend);
  KEEP_NCCL(ncclRecv);
  KEEP_NCCL(ncclGroupStart);
  KEEP_NCCL(ncclGroupEnd);
  KEEP_NCCL(ncclGroupSimulateEnd);
}

#undef KEEP_NCCL

// prism/prism.h, prism/collective.hpp and prism/comm.hpp.
void prismApi() {
  keep(&prismVersionString);
  keep(&prismPrintConfig);
  keep(&prismLaunchWorld);
  keep(&prismBindProcess);
  keep(&prismBindThread);
  keep(&prismCommStagedBytes);
  keep(&prism::collectiveName);
  keep(&prism::busBandwidthFactor);
  keep(&prism::launchInfoFromEnvironment);

  using prism::Comm;
  using prism::Work;
  keep(&Work::test);
  keep(&Work::wait);
  keep(&Work::waitOn);
  keep(&Work::startTime);
  keep(&Work::endTime);
  keep(&Work::bytes);
  keep(&Comm::fromUniqueId);
  keep(&Comm::fromEnvironment);
  keep(&Comm::adopt);
  keep(&Comm::rank);
  keep(&Comm::size);
  keep(&Comm::handle);
  keep(&Comm::split);
  keep(&Comm::allReduce);
  keep(&Comm::broadcast);
  keep(&Comm::reduce);
  keep(&Comm::allGather);
  keep(&Comm::reduceScatter);
  keep(&Comm::allToAll);
  keep(&Comm::send);
  keep(&Comm::recv);
  keep(&Comm::batch);
  keep(&Comm::synchronize);
  keep(&Comm::abort);
  keep(static_cast<Comm& (Comm::*)(Comm &&) noexcept>(&Comm::operator=));
}

// train/overlap: tensor.hpp, overlap_meter.hpp, grad_bucketer.hpp, param_prefetcher.hpp,
// pipeline_scheduler.hpp.
void overlapApi() {
  using namespace prism::overlap;
  keep(&elementSize);
  keep(&requireElementType);
  keep(&copyTensor);
  keep(&Buffer::zero);
  keep(static_cast<Buffer& (Buffer::*)(Buffer &&) noexcept>(&Buffer::operator=));

  keep(&intervalUnion);
  keep(&unionLength);
  keep(&intersectionLength);
  keep(&exposedLength);
  keep(&OverlapMeter::record);
  keep(&OverlapMeter::recordInterval);
  keep(&OverlapMeter::beginCompute);
  keep(&OverlapMeter::endCompute);
  keep(&OverlapMeter::addCompute);
  keep(&OverlapMeter::endStep);
  keep(&OverlapMeter::seconds);

  keep(&GradBucketer::addParam);
  keep(&GradBucketer::grad);
  keep(&GradBucketer::flat);
  keep(&GradBucketer::bucketCount);
  keep(&GradBucketer::bucketParams);
  keep(&GradBucketer::bucket);
  keep(&GradBucketer::shard);
  keep(&GradBucketer::markReady);
  keep(&GradBucketer::finalize);
  keep(&GradBucketer::zeroGrads);

  keep(&ParamPrefetcher::addUnit);
  keep(&ParamPrefetcher::shard);
  keep(&ParamPrefetcher::full);
  keep(&ParamPrefetcher::grad);
  keep(&ParamPrefetcher::gradShard);
  keep(&ParamPrefetcher::unshard);
  keep(&ParamPrefetcher::reshard);
  keep(&ParamPrefetcher::prefetchForward);
  keep(&ParamPrefetcher::prefetchBackward);
  keep(&ParamPrefetcher::reduceGrad);
  keep(&ParamPrefetcher::inFlight);
  keep(&ParamPrefetcher::finalize);

  keep(&PipelineScheduler::sendNext);
  keep(&PipelineScheduler::recvPrev);
  keep(&PipelineScheduler::sendPrev);
  keep(&PipelineScheduler::recvNext);
  keep(&PipelineScheduler::flush);
}

// Constructors and destructors have no address: they are referenced by code that uses
// them, which main never runs.
[[gnu::noinline]] void constructAll() {
  prism::Work work;
  prism::Comm comm;
  prism::Comm moved(std::move(comm));
  prism::DeviceMesh mesh(moved, prism::MeshShape{});
  prism::overlap::Buffer buffer(1, ncclFloat32, prism::overlap::Memory::Host);
  prism::overlap::Buffer movedBuffer(std::move(buffer));
  prism::overlap::GradBucketer bucketer(moved, prism::overlap::GradBucketer::Options{});
  prism::overlap::ParamPrefetcher prefetcher(moved, prism::overlap::ParamPrefetcher::Options{});
  prism::overlap::PipelineScheduler pipeline(moved, nullptr);
}

}  // namespace

int main(int argc, char** argv) {
  ncclApi();
  prismApi();
  overlapApi();
  if (argc > 1000) constructAll();  // never: linked, not run
  // Both libraries are loaded and resolve: one call into each.
  int version = 0;
  const bool prismOk = ncclGetVersion(&version) == ncclSuccess && version > 0;
  const bool overlapOk = prism::overlap::elementSize(ncclBfloat16) == 2 &&
                         prism::busBandwidthFactor(prism::Collective::AllReduce, 4) == 1.5;
  if (!prismOk || !overlapOk) {
    std::printf("FAIL: libprism or libprism_overlap misbehaves\n");
    return 1;
  }
  std::printf("OK: %d public functions of libprism and libprism_overlap link and load\n",
              referenced);
  return 0;
}

/// What prism-train runs: the model and training sizes, the parallel mode and the mesh
/// degrees, parsed from the command line and checked against each other.
#pragma once

#include <string>
#include <vector>

#include "prism/comm.hpp"
#include "train/model/config.h"
#include "train/overlap/tensor.hpp"

namespace prism::train {

enum class Mode { Single, Dp, Zero1, Zero2, Zero3, Tp, Sp, Pp, Cp, Ep, Hybrid };
enum class PipeSchedule { GPipe, OneFOneB };

struct Options {
  Mode mode = Mode::Single;
  MeshShape mesh;
  PipeSchedule schedule = PipeSchedule::OneFOneB;
  int microbatches = 1;
  bool sequenceParallel = false;  ///< sp mode, or --sp with hybrid
  int zeroStage = 0;              ///< 1..3 in the zero modes
  ModelConfig model;
  TrainConfig train;
  int threads = 0;  ///< > 0: run that many ranks as threads of this process
  bool quiet = false;
  /// A/B baseline for overlap: every launch is waited for at once
  /// (overlap::OverlapMeter::serialize), so no communication hides behind compute.
  bool serialize = false;
  /// Gradient bucket cap for dp (stage 0), KiB; the first bucket takes a quarter of it.
  int bucketKb = 256;
  /// ZeRO-3: parameter groups all-gathered ahead of the one computing.
  int prefetch = 1;
  /// --device cuda: the model's matrix products run on the GPU (model/cuda/matmul_cuda.h),
  /// bitwise equal to the CPU loops, in every mode; each rank owns one CUDA backend. The
  /// rest of the model (and its storage) stays on the CPU.
  bool deviceCompute = false;
  /// Where the data-parallel communication buffers live (the bucketer's flat gradient
  /// buffer, ZeRO-3's shards and gathered parameters). --device cuda sets Memory::Device in
  /// modes dp and zero3 (without tp, pp, cp, ep): the collectives then run on the GPU, with
  /// gradients copied in as backward produces them and parameters copied out after each
  /// gather. Other modes keep their buffers in host memory.
  overlap::Memory memory = overlap::Memory::Host;
  /// Test hook: rank `exitRank` ends its process (status 3) when step `exitAtStep` begins,
  /// so tests can check that the other ranks fail with an error instead of hanging.
  int exitRank = -1;
  int exitAtStep = -1;

  int worldSize() const { return mesh.dp * mesh.tp * mesh.pp * mesh.cp; }
};

Mode parseMode(const std::string& name);
const char* modeName(Mode mode);

/// Parses prism-train's flags (see --help). Throws prism::Error(ncclInvalidArgument) on an
/// unknown flag or a malformed value. Applies the mode's implications: zero stage, sequence
/// parallelism, experts (ep mode turns the MLPs into mixtures of experts and sets dp = ep).
Options parseOptions(const std::vector<std::string>& args);
/// Applies what a mode implies to options whose degrees are already set, including where
/// --device cuda puts the communication buffers (Options::memory).
void applyMode(Options& options);
std::string usage();

/// Throws prism::Error(ncclInvalidArgument) naming the first constraint that `options`
/// violates for `worldSize` ranks: degrees multiplying to the world size, heads % tp,
/// ffn % tp, seq % (2 * cp), experts % ep, layers % pp, batch % dp, micro-batches, ...
void validateOptions(const Options& options, int worldSize);

}  // namespace prism::train

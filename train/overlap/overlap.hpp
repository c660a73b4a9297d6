/// prism_overlap: training helpers built only on Prism's public native API (prism::Comm
/// and Work handles, include/prism/comm.hpp), in a library of their own beside libprism:
/// gradient bucketing (DDP / ZeRO-2), parameter prefetching (FSDP), pipeline tick
/// batching, and a meter that says how much communication the compute actually hid.
/// Buffers hold any NCCL element type (bf16, fp16, float32) in host or CUDA memory.
/// Link prism_overlap (which links libprism.so).
#pragma once

#include "train/overlap/grad_bucketer.hpp"
#include "train/overlap/overlap_meter.hpp"
#include "train/overlap/param_prefetcher.hpp"
#include "train/overlap/pipeline_scheduler.hpp"
#include "train/overlap/tensor.hpp"

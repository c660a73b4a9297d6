// NCCL tuner plugins (include/prism/nccl_tuner_abi.h, versions 2 to 5) in this process: the
// library found by NCCL's rules, the newest version it exports, and every version behind
// one interface shaped like version 5. Nothing here throws into or out of a plugin: each
// call into it is guarded. Its logger is the one every plugin gets (base/plugin_library.h).
// docs/design/tuner_plugin.md has the rules and the reasons.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "prism/nccl_tuner_abi.h"

namespace prism {

class PluginLibrary;

/// What a communicator tells a tuner at init.
struct TunerInitArgs {
  uint64_t commId = 0;  ///< equal on every rank of the communicator
  size_t nRanks = 1;
  size_t nNodes = 1;  ///< hosts
  /// Version 5's NVLink domains are, on host memory, the hosts: ranks sharing memory.
  int minRanksPerNode = 1;
  int maxRanksPerNode = 1;
};

/// One question to a tuner and its answer, in every version's terms.
struct TunerCall {
  ncclFunc_t func = ncclFuncAllReduce;
  size_t nBytes = 0;
  /// In: the cost table (microseconds, NCCL_ALGO_PROTO_IGNORE where an entry cannot run).
  /// Out: as versions 3 to 5 left it.
  float table[NCCL_NUM_ALGORITHMS_V5][NCCL_NUM_PROTOCOLS_V5] = {};
  bool collNetSupport = false;  ///< in, version 2 only
  /// Out, version 2 only: the chosen indices, NCCL_ALGO_UNDEF / NCCL_PROTO_UNDEF for none.
  int algorithm = NCCL_ALGO_UNDEF;
  int protocol = NCCL_PROTO_UNDEF;
  int nChannels = 1;  ///< in and out; Prism logs the answer and ignores it
};

/// A loaded tuner plugin. Its functions are called with the context its init made.
class TunerPlugin {
 public:
  struct Impl;
  explicit TunerPlugin(std::unique_ptr<Impl> impl);
  ~TunerPlugin();

  /// 2 to 5: the newest ncclTunerPlugin_vN the library exports.
  int version() const;
  /// The plugin's own name (its table's `name`), else its file name.
  const std::string& name() const;
  /// The file the plugin was loaded from.
  const std::string& path() const;

  ncclResult_t init(const TunerInitArgs& args, void** context) const noexcept;
  /// Versions 3 to 5 edit call.table; version 2 sets call.algorithm and call.protocol.
  ncclResult_t getCollInfo(void* context, TunerCall& call) const noexcept;
  /// finalize (version 5) or destroy (versions 2 to 4).
  ncclResult_t finalize(void* context) const noexcept;

 private:
  std::unique_ptr<Impl> impl_;
};

/// The tuner plugin PRISM_TUNER_PLUGIN / NCCL_TUNER_PLUGIN names (unset: libnccl-tuner.so,
/// then the network plugin's library, quietly). Loaded at the first call for each value of
/// the setting and kept for the life of the process; thread safe. Null when none is
/// configured or it cannot be used: missing, without the symbol, or malformed, each with a
/// WARN naming the reason, once per process.
std::shared_ptr<const TunerPlugin> tunerPlugin();

}  // namespace prism

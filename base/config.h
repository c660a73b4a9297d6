// Every setting Prism reads is declared once, in the table in config.cc: name, NCCL alias,
// default and doc string. Nothing else in Prism calls getenv.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace prism::config {

enum class Setting {
  Debug,             ///< PRISM_DEBUG / NCCL_DEBUG: VERSION, WARN, INFO, TRACE (default: none)
  DebugSubsys,       ///< PRISM_DEBUG_SUBSYS / NCCL_DEBUG_SUBSYS: comma list, ^ negates, ALL
  DebugFile,         ///< PRISM_DEBUG_FILE / NCCL_DEBUG_FILE: %h host, %p pid expanded
  Algo,              ///< PRISM_ALGO / NCCL_ALGO: force an algorithm (comma list)
  Proto,             ///< PRISM_PROTO / NCCL_PROTO: accepted and logged; host path has one
  SocketIfname,      ///< PRISM_SOCKET_IFNAME / NCCL_SOCKET_IFNAME: prefix list, ^ excludes, = exact
  BuffSize,          ///< PRISM_BUFFSIZE / NCCL_BUFFSIZE: bytes of FIFO buffering per peer
  SlotCount,         ///< PRISM_SLOTS: slots each FIFO is cut into
  Timeout,           ///< PRISM_TIMEOUT_S: seconds any blocking wait may last before an error
  BootstrapTimeout,  ///< PRISM_BOOTSTRAP_TIMEOUT_S: seconds to connect to the bootstrap root
  SpinCount,         ///< PRISM_SPIN: polls before a waiting rank yields the core
  DirectMinBytes,    ///< PRISM_DIRECT_MIN_BYTES: smallest call read straight from peers
  TopoFile,          ///< PRISM_TOPO_FILE / NCCL_TOPO_FILE: fabric description replacing discovery
  TopoDumpFile,      ///< PRISM_TOPO_DUMP_FILE / NCCL_TOPO_DUMP_FILE: write the system topology
  TuningFile,        ///< PRISM_TUNING_FILE: cost-model profile from prism-bench --calibrate
  SocketNthreads,    ///< PRISM_SOCKET_NTHREADS / NCCL_SOCKET_NTHREADS: TCP helper threads
  NsocksPerThread,   ///< PRISM_NSOCKS_PERTHREAD / NCCL_NSOCKS_PERTHREAD: sockets per thread
  TcpPlacement,      ///< PRISM_TCP_PLACEMENT: read hinted messages straight into place
  TransportKind,     ///< PRISM_TRANSPORT: auto, shm, tcp, ucx or net (force one for all peers)
  InnetAddr,         ///< PRISM_INNET_ADDR: host:port of an in-network aggregation service
  DeviceSync,        ///< PRISM_DEVICE_SYNC: auto, or events (no in-kernel waits for thread ranks)
  SlotStores,        ///< PRISM_SLOT_STORES: auto, plain or streaming writes into FIFO slots
  NetPlugin,         ///< PRISM_NET_PLUGIN / NCCL_NET_PLUGIN: NCCL network plugin to load
  TunerPlugin,       ///< PRISM_TUNER_PLUGIN / NCCL_TUNER_PLUGIN: NCCL tuner plugin to load
  Count_
};

/// The setting's value: PRISM_ name, else its NCCL alias, else the default.
std::string getString(Setting s);
/// getString parsed as an integer; K/M/G suffixes accepted. A malformed value logs a WARN
/// once and yields the default.
int64_t getInt(Setting s);
/// "PRISM_X", "NCCL_X" (whichever environment variable supplied it) or "default".
std::string source(Setting s);
/// Primary name, e.g. "PRISM_DEBUG".
const char* name(Setting s);

/// One WARN line, once per process, for each NCCL_* variable in the environment (or NCCL's
/// configuration files, which every setting's first read loads as NCCL does: NCCL_CONF_FILE
/// else ~/.nccl.conf, then /etc/nccl.conf) that no setting reads.
void warnUnhonoredNcclVariables();

/// One line per setting: name, value, source and doc. For prism-bench --print-config and
/// the INFO log at init.
void printAll(std::FILE* out);

}  // namespace prism::config

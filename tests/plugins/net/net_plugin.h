// The prismtest network plugin: an NCCL network plugin over plain TCP sockets that Prism's
// tests load as an outside plugin. It is built from the public ABI headers and libc only.
// This header is the plugin's inside: configuration and logging (net_config.cc),
// connection setup (net_connect.cc) and message transfer (net_comm.cc). The exported
// tables, one per ABI version, adapt these to each version's signatures (net_tables.cc).
//
// Wire format on a connection: each message is a WireHeader then its payload bytes.
#pragma once

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "prism/nccl_net_abi.h"

namespace prismtest {

/// What init reads from the environment, fixed until the next init.
struct Config {
  int speedMbps = 10000;    ///< PRISMTEST_NET_SPEED_MBPS
  float latencyUs = 20.0f;  ///< PRISMTEST_NET_LATENCY_US
  sockaddr_in address{};    ///< the interface listen() binds (port 0)
  char ifName[64] = {};     ///< its name, for logs
};

/// Reads the environment, picks the interface (NCCL_SOCKET_IFNAME, else PRISM_SOCKET_IFNAME)
/// and stores `logger` for every later log line. Fails when no interface matches.
ncclResult_t loadConfig(ncclDebugLogger_t logger, int abiVersion);
/// The configuration of the latest successful init.
Config currentConfig();

/// Formats a line and hands it to the logger given at init; does nothing without one.
void log(ncclDebugLogLevel level, unsigned long flags, const char* file, int line, const char* fmt,
         ...) __attribute__((format(printf, 5, 6)));

#define PRISMTEST_WARN(...) \
  ::prismtest::log(NCCL_LOG_WARN, NCCL_NET, __FILE__, __LINE__, __VA_ARGS__)
#define PRISMTEST_INFO(flags, ...) \
  ::prismtest::log(NCCL_LOG_INFO, (flags), __FILE__, __LINE__, __VA_ARGS__)

/// Every version's properties are a prefix-compatible subset of these.
void fillProperties(ncclNetProperties_v11_t* props);

// Connection setup (net_connect.cc). None of these blocks.
ncclResult_t listen(void* handle, void** listenComm);
/// Keeps its in-progress state in the handle (after the address), as NCCL's own plugins
/// do: the host passes the same handle on every retry until *sendComm is set.
ncclResult_t connect(void* handle, void** sendComm);
ncclResult_t accept(void* listenComm, void** recvComm);
ncclResult_t closeListen(void* listenComm);

// Message transfer (net_comm.cc). None of these blocks.
ncclResult_t isend(void* sendComm, void* data, size_t size, int tag, void** request);
ncclResult_t irecv(void* recvComm, int n, void** data, const size_t* sizes, void** request);
/// `*size` is the bytes sent or received once `*done` is set.
ncclResult_t test(void* request, int* done, size_t* size);
ncclResult_t closeComm(void* comm);
ncclResult_t regMr(void* comm, void* data, size_t size, int type, void** mhandle);
ncclResult_t deregMr(void* comm, void* mhandle);

/// Makes the comm that owns connected socket `fd`; takes the descriptor (closed on failure).
ncclResult_t makeComm(int fd, bool sending, void** comm);

}  // namespace prismtest

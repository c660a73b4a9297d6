// One rank's TCP connection to the service: where its input stands (header or payload of
// the frame being read) and what is queued for it (control frames, then result chunks).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tools/prism-innet/job.h"
#include "transports/in_network/in_network_protocol.h"

namespace prism::innet {

struct Connection {
  int fd = -1;
  Clock::time_point opened;
  Job* job = nullptr;
  int rank = -1;
  bool dead = false;      ///< closed; freed at the end of the loop iteration
  uint32_t interest = 0;  ///< epoll events currently registered

  // Input: a 32-byte header, then its payload straight into its destination.
  Frame in;
  size_t headerGot = 0;
  bool inPayload = false;
  std::byte* payload = nullptr;
  size_t payloadGot = 0;
  bool blocked = false;  ///< a Chunk header waits for its slot (backpressure)
  uint64_t nextTicket = 0;
  std::string token;  ///< Hello payload

  // Output: control frames first, then results in ticket order (a ring of window entries).
  std::string control;
  size_t controlSent = 0;
  std::vector<uint64_t> results;
  size_t resultHead = 0;
  size_t resultCount = 0;
  size_t resultSent = 0;  ///< bytes (header + payload) of the head result already sent

  bool wantsWrite() const { return controlSent < control.size() || resultCount > 0; }
};

}  // namespace prism::innet

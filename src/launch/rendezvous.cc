// uniqueIdFromRendezvous: every rank of a launch builds the same ncclUniqueId from the
// launcher's rendezvous address and a secret derived from the job, and rank 0 serves it.
#include <netdb.h>
#include <sys/socket.h>

#include <cstring>
#include <string>

#include "base/error.h"
#include "base/siphash.h"
#include "src/bootstrap/fixed_root.h"
#include "src/bootstrap/unique_id.h"
#include "src/launch/launch_env.h"

namespace prism {
namespace {

// The first IPv4 address of `host`, else its first IPv6 address.
net::SocketAddress resolve(const std::string& host, int port, const std::string& what) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &list);
  if (rc != 0) {
    throw CommError(ncclInvalidUsage,
                    "rendezvous " + what + ": cannot resolve " + host + ": " + gai_strerror(rc));
  }
  const addrinfo* chosen = nullptr;
  for (const addrinfo* a = list; a != nullptr; a = a->ai_next) {
    if (a->ai_family == AF_INET) {
      chosen = a;
      break;
    }
    if (a->ai_family == AF_INET6 && chosen == nullptr) chosen = a;
  }
  if (chosen == nullptr) {
    freeaddrinfo(list);
    throw CommError(ncclInvalidUsage, "rendezvous " + what + ": no IP address for " + host);
  }
  auto address = net::SocketAddress::fromSockaddr(chosen->ai_addr);
  freeaddrinfo(list);
  address.port = static_cast<uint16_t>(port);
  return address;
}

// 32 bytes from the job key: four SipHash-2-4 outputs under distinct public keys. The
// secrecy comes from the key text (PRISM_JOB_SECRET), not from the hash.
bootstrap::Secret deriveSecret(const std::string& jobKey) {
  bootstrap::Secret secret{};
  for (size_t word = 0; word < secret.size() / 8; ++word) {
    uint8_t key[kSipKeyBytes] = {'p', 'r', 'i', 's', 'm', '-', 's', 'e',
                                 'c', 'r', 'e', 't', 0,   0,   0,   0};
    key[15] = static_cast<uint8_t>(word);
    uint64_t h = sipHash24(key, jobKey.data(), jobKey.size());
    for (size_t b = 0; b < 8; ++b) secret[word * 8 + b] = static_cast<uint8_t>(h >> (8 * b));
  }
  return secret;
}

}  // namespace

void uniqueIdFromRendezvous(const LaunchInfo& info, ncclUniqueId* id) {
  if (id == nullptr) throw CommError(ncclInvalidArgument, "unique id pointer is null");
  std::string host;
  int port = 0;
  launch::splitHostPort(info.rendezvous, "rendezvous", &host, &port);
  bootstrap::UniqueIdFields fields;
  fields.root = resolve(host, port, info.rendezvous);
  fields.secret = deriveSecret(launch::jobKey(info));
  if (info.rank == 0) {
    try {
      bootstrap::startRootAt(fields);
    } catch (const Error& e) {
      throw CommError(e.code(), std::string(e.what()) + " (rank 0 of a " + info.source +
                                    " launch serves the rendezvous)");
    }
  }
  bootstrap::encodeUniqueId(fields, id);
}

}  // namespace prism

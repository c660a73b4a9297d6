// Does MSG_ZEROCOPY pay between two (emulated) hosts? One TCP stream from rank 1 to rank 0
// under prism-run, sent as the TCP transport sends it (slot-sized pieces from a ring of
// slots), with plain copies or with MSG_ZEROCOPY, whose completions are reaped from the
// socket's error queue before a slot is reused. Prints GB/s per mode, alternating modes.
//   prism-run --hosts 2 --ranks-per-host 1 -- prism_tcp_zerocopy [MiB] [rounds]
// Rank 0 listens on the rendezvous port + 1 (PRISM_RENDEZVOUS) and receives.
#include <arpa/inet.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr size_t kSlot = 128 * 1024;
constexpr int kSlots = 8;

[[noreturn]] void die(const char* what) {
  std::perror(what);
  std::exit(1);
}

/// Reaps zerocopy completions; returns the highest completed send number + 1 seen so far.
uint32_t reap(int fd, uint32_t done, bool block) {
  while (true) {
    if (block) {
      pollfd p{fd, 0, 0};  // error-queue events are always reported
      ::poll(&p, 1, 1000);
    }
    char control[128];
    msghdr msg{};
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    if (::recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
      if (errno == EAGAIN) return done;
      die("recvmsg(MSG_ERRQUEUE)");
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      auto* e = reinterpret_cast<sock_extended_err*>(CMSG_DATA(c));
      if (e->ee_origin == SO_EE_ORIGIN_ZEROCOPY && e->ee_data + 1 > done) done = e->ee_data + 1;
    }
    block = false;
  }
}

void recvAll(int fd, void* data, size_t bytes) {
  char* p = static_cast<char*>(data);
  while (bytes > 0) {
    ssize_t n = ::recv(fd, p, bytes, 0);
    if (n <= 0) die("recv");
    p += n;
    bytes -= static_cast<size_t>(n);
  }
}

/// Zerocopy sends are numbered by the kernel per successful send() call, partial ones too.
struct ZeroCopyCounts {
  uint32_t issued = 0;     ///< send() calls with MSG_ZEROCOPY that sent something
  uint32_t completed = 0;  ///< completions reaped: calls [0, completed) let go of their pages
};

/// Sends all of `data`; with `zc`, as zerocopy sends. Returns the number of the last call.
uint32_t sendAll(int fd, const void* data, size_t bytes, ZeroCopyCounts* zc) {
  const char* p = static_cast<const char*>(data);
  uint32_t last = 0;
  while (bytes > 0) {
    ssize_t n = ::send(fd, p, bytes, zc != nullptr ? MSG_ZEROCOPY : 0);
    if (n < 0 && errno == ENOBUFS && zc != nullptr) {
      // The socket's notification memory is full until completions are reaped.
      zc->completed = reap(fd, zc->completed, true);
      continue;
    }
    if (n < 0) die("send");
    if (zc != nullptr) last = zc->issued++;
    p += n;
    bytes -= static_cast<size_t>(n);
  }
  return last;
}

double sendOnce(int fd, size_t total, ZeroCopyCounts* zc, std::vector<char>& ring) {
  // Per slot: the number of the last zerocopy call that read it (+1; 0: none pending).
  std::vector<uint32_t> lastCall(kSlots, 0);
  auto start = std::chrono::steady_clock::now();
  size_t piece = 0;
  for (size_t sent = 0; sent < total; sent += kSlot, ++piece) {
    const size_t slot = piece % kSlots;
    // A slot may be refilled only once the kernel let go of its previous send.
    while (zc != nullptr && lastCall[slot] > zc->completed) {
      zc->completed = reap(fd, zc->completed, true);
    }
    char* data = ring.data() + slot * kSlot;
    data[0] = static_cast<char>(piece);
    const uint32_t last = sendAll(fd, data, kSlot, zc);
    if (zc != nullptr) {
      lastCall[slot] = last + 1;
      zc->completed = reap(fd, zc->completed, false);
    }
  }
  char ack;
  recvAll(fd, &ack, 1);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  while (zc != nullptr && zc->completed < zc->issued) zc->completed = reap(fd, zc->completed, true);
  return static_cast<double>(total) / seconds / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const size_t mib = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 256;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  const size_t total = mib << 20;
  const char* rank = std::getenv("PRISM_RANK");
  const char* rendezvous = std::getenv("PRISM_RENDEZVOUS");
  if (rank == nullptr || rendezvous == nullptr) {
    std::fprintf(stderr, "run under prism-run --hosts 2 --ranks-per-host 1\n");
    return 2;
  }
  std::string where(rendezvous);
  std::string host = where.substr(0, where.rfind(':'));
  int port = std::atoi(where.substr(where.rfind(':') + 1).c_str()) + 1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr);

  if (std::atoi(rank) == 0) {
    int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    addr.sin_addr.s_addr = INADDR_ANY;
    if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) die("bind");
    ::listen(listener, 1);
    int fd = ::accept(listener, nullptr, nullptr);
    if (fd < 0) die("accept");
    std::vector<char> buffer(kSlot);
    for (int r = 0; r < 2 * rounds; ++r) {
      for (size_t got = 0; got < total; got += kSlot) recvAll(fd, buffer.data(), kSlot);
      sendAll(fd, "k", 1, nullptr);
    }
    return 0;
  }
  int fd = -1;
  for (int attempt = 0; attempt < 200; ++attempt) {  // rank 0 may not listen yet: 10 s
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) break;
    ::close(fd);
    fd = -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (fd < 0) die("connect");
  int one = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)) != 0) die("SO_ZEROCOPY");
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  std::vector<char> ring(kSlot * kSlots, 1);
  ZeroCopyCounts zc;
  std::printf("# %zu MiB per run, %zu KiB sends from %d slots\n", mib, kSlot / 1024, kSlots);
  for (int r = 0; r < rounds; ++r) {
    double copy = sendOnce(fd, total, nullptr, ring);
    double zero = sendOnce(fd, total, &zc, ring);
    std::printf("round %d: copy %.2f GB/s, MSG_ZEROCOPY %.2f GB/s\n", r, copy, zero);
  }
  return 0;
}

// The smoke test's traffic: two-way streams of awkward sizes, then the errors a plugin must
// report instead of crashing or hanging. Nothing here blocks; every loop has a deadline.
#include <chrono>
#include <deque>
#include <iterator>
#include <thread>
#include <vector>

#include "tests/plugins/net/smoke_net.h"

namespace prismtest::smoke {
namespace {

constexpr int kMessages = 200;
constexpr size_t kSizes[] = {0, 1, 3, 4, 7, 4095, 4096, 4097, 65537, 1 << 20, 123457, 2, 15, 17};
constexpr uint8_t kUntouched = 0xEE;
constexpr auto kTimeLimit = std::chrono::seconds(60);

size_t messageSize(int i) { return kSizes[i % std::size(kSizes)]; }
/// Bytes a receive posts beyond its message: a message may be shorter than its buffer.
size_t spare(int i) { return static_cast<size_t>(i % 3) * 13; }
uint8_t pattern(int rank, int i, size_t j) {
  return static_cast<uint8_t>(rank * 131 + i * 31 + j * 7 + (j >> 8));
}

struct Pending {
  void* request = nullptr;
  int index = 0;
  std::vector<uint8_t> buffer;
  void* mhandle = nullptr;
};

using Clock = std::chrono::steady_clock;

/// Tests every pending request, newest first; once a newer one is done every older one must
/// be, since a comm completes requests in posting order. Done ones go to `check` and leave.
template <class Check>
bool testAll(Net& net, void* comm, std::deque<Pending>& pending, const char* what, int rank,
             Check check) {
  bool newerDone = false;
  for (size_t k = pending.size(); k-- > 0;) {
    int done = 0;
    int size = -1;
    ncclResult_t result = net.test(pending[k].request, &done, &size);
    if (result != ncclSuccess) {
      fail("rank %d: test of %s %d returned %d", rank, what, pending[k].index, result);
      return false;
    }
    if (newerDone && !done) {
      fail("rank %d: a %s after %d completed before it", rank, what, pending[k].index);
      return false;
    }
    if (!done) continue;
    newerDone = true;
    check(pending[k], size);
    if (net.deregMr(comm, pending[k].mhandle) != ncclSuccess) fail("deregMr");
    pending.erase(pending.begin() + static_cast<ptrdiff_t>(k));
  }
  return true;
}

/// Posts one more request unless NCCL_NET_MAX_REQUESTS are out, in which case the plugin
/// must answer "try later" (a null request). Returns false on a failed check.
bool post(Net& net, void* comm, bool sending, int rank, int index, std::deque<Pending>& pending) {
  uint8_t probe = 0;
  void* request = nullptr;
  if (pending.size() == NCCL_NET_MAX_REQUESTS) {
    ncclResult_t result = sending ? net.isend(comm, &probe, 1, 0, nullptr, &request)
                                  : net.irecv(comm, &probe, 1, 0, nullptr, &request);
    if (result == ncclSuccess && request == nullptr) return true;
    fail("rank %d: request beyond the %d outstanding: result %d, request %p", rank,
         NCCL_NET_MAX_REQUESTS, result, request);
    return false;
  }
  Pending p;
  p.index = index;
  size_t size = messageSize(index);
  if (sending) {
    p.buffer.resize(size);
    for (size_t j = 0; j < size; ++j) p.buffer[j] = pattern(rank, index, j);
  } else {
    p.buffer.assign(size + spare(index), kUntouched);
  }
  if (net.regMr(comm, p.buffer.data(), p.buffer.size(), &p.mhandle) != ncclSuccess) {
    fail("rank %d: regMr failed", rank);
    return false;
  }
  ncclResult_t result =
      sending ? net.isend(comm, p.buffer.data(), size, index, p.mhandle, &p.request)
              : net.irecv(comm, p.buffer.data(), p.buffer.size(), index, p.mhandle, &p.request);
  if (result != ncclSuccess || p.request == nullptr) {
    fail("rank %d: %s %d with %zu outstanding: result %d, request %p", rank,
         sending ? "isend" : "irecv", index, pending.size(), result, p.request);
    return false;
  }
  pending.push_back(std::move(p));
  return true;
}

}  // namespace

void exchange(Net& net, void* sendComm, void* recvComm, int rank) {
  const int peer = 1 - rank;
  std::deque<Pending> sends;
  std::deque<Pending> recvs;
  int nextSend = 0;
  int nextRecv = 0;
  int sendsDone = 0;
  int recvsDone = 0;
  auto checkSend = [&](const Pending& p, int size) {
    ++sendsDone;
    if (static_cast<size_t>(size) != messageSize(p.index)) {
      fail("rank %d: send %d reported %d bytes, sent %zu", rank, p.index, size,
           messageSize(p.index));
    }
  };
  auto checkRecv = [&](const Pending& p, int size) {
    ++recvsDone;
    size_t expected = messageSize(p.index);
    if (static_cast<size_t>(size) != expected) {
      return fail("rank %d: receive %d reported %d bytes, expected %zu", rank, p.index, size,
                  expected);
    }
    for (size_t j = 0; j < p.buffer.size(); ++j) {
      uint8_t want = j < expected ? pattern(peer, p.index, j) : kUntouched;
      if (p.buffer[j] != want) {
        return fail("rank %d: receive %d byte %zu is %d, expected %d", rank, p.index, j,
                    p.buffer[j], want);
      }
    }
  };
  auto deadline = Clock::now() + kTimeLimit;
  while (sendsDone < kMessages || recvsDone < kMessages) {
    if (Clock::now() > deadline) {
      return fail("rank %d: %d sends and %d receives done after %lld s", rank, sendsDone, recvsDone,
                  static_cast<long long>(kTimeLimit.count()));
    }
    if (nextSend < kMessages) {
      size_t before = sends.size();
      if (!post(net, sendComm, true, rank, nextSend, sends)) return;
      nextSend += sends.size() > before ? 1 : 0;
    }
    if (nextRecv < kMessages) {
      size_t before = recvs.size();
      if (!post(net, recvComm, false, rank, nextRecv, recvs)) return;
      nextRecv += recvs.size() > before ? 1 : 0;
    }
    if (!testAll(net, sendComm, sends, "send", rank, checkSend)) return;
    if (!testAll(net, recvComm, recvs, "receive", rank, checkRecv)) return;
  }
}

/// Tests `request` until it completes or fails; returns the result of the last test.
ncclResult_t waitFor(Net& net, void* request, int* size) {
  auto deadline = Clock::now() + std::chrono::seconds(10);
  int done = 0;
  while (Clock::now() < deadline) {
    ncclResult_t result = net.test(request, &done, size);
    if (result != ncclSuccess || done) return result;
    std::this_thread::yield();
  }
  fail("a request neither completed nor failed in 10 s");
  return ncclSuccess;
}

void checkErrors(Net& net, void* sendA, void* recvA, void** sendB, void* recvB) {
  // A 100-byte message for a 10-byte buffer.
  std::vector<uint8_t> message(100, 1);
  std::vector<uint8_t> buffer(10, 0);
  void* sendRequest = nullptr;
  void* recvRequest = nullptr;
  int size = 0;
  if (net.isend(sendA, message.data(), message.size(), 0, nullptr, &sendRequest) != ncclSuccess ||
      net.irecv(recvA, buffer.data(), buffer.size(), 0, nullptr, &recvRequest) != ncclSuccess ||
      sendRequest == nullptr || recvRequest == nullptr) {
    return fail("posting the too-long message failed");
  }
  if (waitFor(net, sendRequest, &size) != ncclSuccess) fail("sending the too-long message");
  ncclResult_t result = waitFor(net, recvRequest, &size);
  if (result != ncclInternalError) fail("a too-long message: test returned %d", result);

  // Receives nobody sends to: NCCL_NET_MAX_REQUESTS are taken, one more is "try later";
  // then the sender goes away and every one of them fails.
  std::vector<uint8_t> buffers(NCCL_NET_MAX_REQUESTS * 16);
  void* requests[NCCL_NET_MAX_REQUESTS + 1] = {};
  for (int i = 0; i <= NCCL_NET_MAX_REQUESTS; ++i) {
    if (net.irecv(recvB, buffers.data() + (i % NCCL_NET_MAX_REQUESTS) * 16, 16, 0, nullptr,
                  &requests[i]) != ncclSuccess) {
      return fail("irecv %d failed", i);
    }
  }
  for (int i = 0; i < NCCL_NET_MAX_REQUESTS; ++i) {
    if (requests[i] == nullptr) fail("irecv %d of %d was refused", i, NCCL_NET_MAX_REQUESTS);
  }
  if (requests[NCCL_NET_MAX_REQUESTS] != nullptr) fail("irecv beyond the limit was accepted");
  net.closeSend(*sendB);
  *sendB = nullptr;
  for (int i = 0; i < NCCL_NET_MAX_REQUESTS; ++i) {
    if (requests[i] == nullptr) continue;
    result = waitFor(net, requests[i], &size);
    if (result != ncclRemoteError && result != ncclSystemError) {
      fail("receive %d from a closed peer: test returned %d", i, result);
    }
  }

  void* mhandle = nullptr;
  if (net.regMrDmaBuf(recvA, buffer.data(), buffer.size(), &mhandle) == ncclSuccess) {
    fail("regMrDmaBuf succeeded");
  }
  void* request = &mhandle;  // iflush must set it to null
  if (net.iflush(recvA, buffer.data(), 10, nullptr, &request) != ncclSuccess ||
      request != nullptr) {
    fail("iflush did not answer success with no request");
  }
}

}  // namespace prismtest::smoke

// ncclCommSplit and ncclCommShrink: new communicators built over an existing one. The
// parent's own transport carries the set-up exchange, so no bootstrap root is needed.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>

#include "base/error.h"
#include "base/setup_channel.h"
#include "src/comm/communicator.h"

namespace prism {

namespace {

/// A SetupChannel over some ranks of a live communicator: allGather is an AllGather
/// collective on the parent, restricted to `members`.
class CommSetupChannel : public SetupChannel {
 public:
  CommSetupChannel(Communicator& parent, std::vector<int> members)
      : parent_(parent), members_(std::move(members)) {
    auto it = std::find(members_.begin(), members_.end(), parent.rank());
    rank_ = static_cast<int>(it - members_.begin());
  }
  int rank() const override { return rank_; }
  int size() const override { return static_cast<int>(members_.size()); }
  void allGather(const void* mine, void* all, size_t bytes) override {
    std::byte* out = static_cast<std::byte*>(all);
    std::memcpy(out + bytes * static_cast<size_t>(rank_), mine, bytes);
    Operation op;
    op.collective = Collective::AllGather;
    op.sendbuff = out + bytes * static_cast<size_t>(rank_);
    op.recvbuff = out;
    op.count = bytes;
    op.type = DataType::Uint8;
    op.members = &members_;
    parent_.run({&op, 1});
  }

 private:
  Communicator& parent_;
  std::vector<int> members_;
  int rank_ = 0;
};

struct SplitRequest {
  int color;
  int key;
};

}  // namespace

std::unique_ptr<Communicator> Communicator::split(int color, int key, const CommOptions& options) {
  checkUsable();
  check(color >= 0 || color == NCCL_SPLIT_NOCOLOR, ncclInvalidArgument,
        "ncclCommSplit: color must be >= 0 or NCCL_SPLIT_NOCOLOR");
  std::vector<int> everyone(static_cast<size_t>(size_));
  for (int r = 0; r < size_; ++r) everyone[r] = r;
  CommSetupChannel all(*this, everyone);
  SplitRequest mine{color, key};
  std::vector<SplitRequest> requests(static_cast<size_t>(size_));
  all.allGather(&mine, requests.data(), sizeof(mine));
  if (color == NCCL_SPLIT_NOCOLOR) return nullptr;
  // New ranks follow the key, ties broken by the old rank.
  std::vector<int> members;
  for (int r = 0; r < size_; ++r)
    if (requests[r].color == color) members.push_back(r);
  std::stable_sort(members.begin(), members.end(),
                   [&](int a, int b) { return requests[a].key < requests[b].key; });
  return makeChild(std::move(members), options);
}

std::unique_ptr<Communicator> Communicator::shrink(std::span<const int> excluded,
                                                   const CommOptions& options) {
  std::vector<int> members;
  for (int r = 0; r < size_; ++r)
    if (std::find(excluded.begin(), excluded.end(), r) == excluded.end()) members.push_back(r);
  check(!members.empty(), ncclInvalidArgument, "ncclCommShrink: every rank is excluded");
  check(std::find(members.begin(), members.end(), rank_) != members.end(), ncclInvalidArgument,
        "ncclCommShrink: the calling rank is in the exclude list");
  recovering_ = true;
  struct Reset {
    bool& flag;
    ~Reset() { flag = false; }
  } reset{recovering_};
  return makeChild(std::move(members), options);
}

std::unique_ptr<Communicator> Communicator::makeChild(std::vector<int> members,
                                                      const CommOptions& options) {
  CommSetupChannel channel(*this, members);
  // The first member names the child; the name must be unique on this host, and agreed.
  struct Name {
    char text[64];
  } proposal{};
  std::snprintf(proposal.text, sizeof(proposal.text), "%016zx",
                std::hash<std::string>{}(name_ + "/" + std::to_string(rank_) + "/" +
                                         std::to_string(children_++)));
  std::vector<Name> names(members.size());
  channel.allGather(&proposal, names.data(), sizeof(Name));
  return std::make_unique<Communicator>(channel, std::string(names[0].text), options);
}

}  // namespace prism

#include "transports/shm/shm_rendezvous.h"

#include <sys/mman.h>

#include <cstdint>
#include <exception>
#include <vector>

#include "base/error.h"
#include "base/log.h"
#include "base/setup_channel.h"

namespace prism::shm {

namespace {

// What each rank contributes to a setup step: whether the step failed here, and what it
// believes the object is, so a rank given other options is caught before it maps anything.
struct StepRecord {
  uint32_t failed;
  int32_t slotCount;
  uint64_t slotBytes;
  uint64_t nameHash;
};

uint64_t fnv1a(const std::string& text) {
  uint64_t hash = 1469598103934665603ull;
  for (unsigned char c : text) hash = (hash ^ c) * 1099511628211ull;
  return hash;
}

// Runs `step`, then tells every rank how it went on every rank. Every rank calls allGather
// even when its own step threw, so a failure on one rank cannot leave the others waiting.
// `rootFailed`, if given, is set once that is known: whether rank 0's step threw.
template <typename Step>
void stepTogether(SetupChannel& setup, const std::string& name, const ShmLayout& layout,
                  const char* what, Step&& step, bool* rootFailed = nullptr) {
  std::exception_ptr failure;
  try {
    step();
  } catch (...) {
    failure = std::current_exception();
  }
  StepRecord mine{failure ? 1u : 0u, layout.slotCount, layout.slotBytes, fnv1a(name)};
  std::vector<StepRecord> all(static_cast<size_t>(setup.size()));
  setup.allGather(&mine, all.data(), sizeof(StepRecord));
  if (rootFailed) *rootFailed = all[0].failed != 0;
  if (failure) std::rethrow_exception(failure);
  for (int r = 0; r < setup.size(); ++r) {
    const StepRecord& theirs = all[static_cast<size_t>(r)];
    if (theirs.failed != 0) {
      throw Error(ncclSystemError, std::string("shm transport ") + name + ": rank " +
                                       std::to_string(r) + " failed to " + what);
    }
    if (theirs.slotCount != mine.slotCount || theirs.slotBytes != mine.slotBytes ||
        theirs.nameHash != mine.nameHash) {
      throw Error(ncclInvalidUsage, "shm transport " + name + ": rank " + std::to_string(r) +
                                        " has different options (slotBytes " +
                                        std::to_string(theirs.slotBytes) + ", slotCount " +
                                        std::to_string(theirs.slotCount) + ", or name)");
    }
  }
}

void checkOptions(const std::string& name, const ShmLayout& layout) {
  // The name becomes one path component under /dev/shm.
  check(!name.empty() && name.size() <= 200 && name.find('/') == std::string::npos,
        ncclInvalidArgument, "shm transport name must be 1..200 characters without '/'");
  check(layout.fitsInAddressSpace(), ncclInvalidArgument,
        "shm transport: " + std::to_string(layout.ranks) + " ranks with " +
            std::to_string(layout.slotCount) + " slots of " + std::to_string(layout.slotBytes) +
            " bytes per FIFO is not a valid size");
}

}  // namespace

ShmSegment mapSharedSegment(SetupChannel& setup, const std::string& name, const ShmLayout& layout) {
  const std::string objectName = "/prism-" + name;
  const bool creator = setup.rank() == 0;
  ShmSegment segment;

  // Unknown until the first step's exchange: a creator that dies may have made the name.
  bool notCreated = false;
  try {
    stepTogether(
        setup, name, layout, "create shared memory",
        [&] {
          checkOptions(name, layout);
          if (creator) segment = ShmSegment::create(objectName, layout.totalBytes());
        },
        &notCreated);
    // The allGather above orders the creator's setup before every open below.
    stepTogether(setup, name, layout, "map shared memory", [&] {
      if (!creator) segment = ShmSegment::open(objectName, layout.totalBytes());
    });
  } catch (...) {
    // The creator's segment unlinks its name as it is destroyed; a creator that died
    // cannot, so the other ranks remove the name on every failed path (a name already
    // gone is no error), except where the creator reported that it made nothing: then
    // the name, if it exists, belongs to someone else.
    if (!creator && !notCreated) ::shm_unlink(objectName.c_str());
    throw;
  }

  // Every rank holds its mapping now. Each removes the name, so it goes even if the
  // creator dies before its own unlink; the first to get there wins.
  try {
    if (creator) {
      segment.unlink();
    } else {
      ::shm_unlink(objectName.c_str());
    }
  } catch (const Error& e) {
    // A leftover name wastes memory but breaks nothing.
    log::warn("%s: %s", e.where().c_str(), e.what());
  }
  if (creator) {
    log::info(log::kShm | log::kInit,
              "shm transport %s: %d ranks, %d slots of %zu bytes per FIFO, %zu bytes mapped",
              name.c_str(), layout.ranks, layout.slotCount, layout.slotBytes, segment.size());
  }
  return segment;
}

}  // namespace prism::shm

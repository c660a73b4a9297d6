#include "train/parallel/thread_ranks.h"

#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "base/error.h"

namespace prism::train {

void runThreadRanks(int ranks, const std::function<void(Comm& world)>& body) {
  ncclUniqueId id;
  if (ncclGetUniqueId(&id) != ncclSuccess) throw Error(ncclSystemError, "ncclGetUniqueId failed");
  std::mutex mutex;
  std::exception_ptr failure;
  std::vector<std::thread> threads;
  for (int r = 0; r < ranks; ++r)
    threads.emplace_back([&, r] {
      try {
        Comm world = Comm::fromUniqueId(id, ranks, r);
        body(world);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!failure) failure = std::current_exception();
      }
    });
  for (std::thread& t : threads) t.join();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace prism::train

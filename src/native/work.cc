// Work: a handle on one operation the progress engine runs. Waiting threads sleep on the
// state's condition variable; they never drive communicators themselves (see
// progress_engine.h for why).
#include "src/native/device_stream.h"
#include "src/native/work_state.h"

namespace prism {

Work::State::~State() { native::destroyEvent(event); }

void Work::State::complete(Clock::time_point when) {
  {
    std::lock_guard lock(mutex);
    end = when;
    done = true;
  }
  changed.notify_all();
}

void Work::State::fail(ncclResult_t code, const std::string& why) {
  {
    std::lock_guard lock(mutex);
    if (done) return;
    error = code == ncclSuccess ? ncclInternalError : code;
    reason = why;
    end = Clock::now();
    done = true;
  }
  changed.notify_all();
}

void Work::State::started(Clock::time_point when) {
  std::lock_guard lock(mutex);
  if (start == Clock::time_point{}) start = when;
}

void Work::State::markEnqueued(void* completionEvent) {
  {
    std::lock_guard lock(mutex);
    event = completionEvent;
    enqueued = true;
  }
  changed.notify_all();
}

namespace {

std::shared_ptr<Work::State> completedState() {
  auto state = std::make_shared<Work::State>();
  state->done = true;
  state->start = state->end = Work::Clock::now();
  return state;
}

void throwIfFailed(const Work::State& state) {
  if (state.error != ncclSuccess) throw CommError(state.error, state.reason);
}

}  // namespace

Work::Work() : state_(completedState()) {}

bool Work::test() const {
  std::lock_guard lock(state_->mutex);
  throwIfFailed(*state_);
  return state_->done;
}

bool Work::wait(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(state_->mutex);
  auto finished = [&] { return state_->done; };
  // The progress engine fails an operation that makes no progress for PRISM_TIMEOUT_S, so
  // an unbounded wait still ends.
  constexpr auto kForever = std::chrono::hours(24 * 365);
  if (timeout >= kForever) {
    state_->changed.wait(lock, finished);
  } else if (!state_->changed.wait_for(lock, timeout, finished)) {
    return false;
  }
  throwIfFailed(*state_);
  return true;
}

void Work::waitOn(void* stream) const {
  std::unique_lock lock(state_->mutex);
  // A device operation orders the stream on its event as soon as it is enqueued; host
  // work (and device work already finished) has the host wait first.
  state_->changed.wait(lock, [&] { return state_->done || state_->enqueued; });
  throwIfFailed(*state_);
  if (!state_->done && state_->event != nullptr) {
    native::streamWaitEvent(stream, state_->event);
    return;
  }
  lock.unlock();
  wait();
}

Work::Clock::time_point Work::startTime() const {
  std::lock_guard lock(state_->mutex);
  return state_->start;
}

Work::Clock::time_point Work::endTime() const {
  std::lock_guard lock(state_->mutex);
  return state_->end;
}

size_t Work::bytes() const {
  std::lock_guard lock(state_->mutex);
  return state_->bytes;
}

}  // namespace prism

// The device side of a build without CUDA: every buffer is host memory.
#include "base/error.h"
#include "src/device/device.h"

namespace prism::device {

namespace {

class NoEngine final : public Engine {
 public:
  void run(std::span<const Operation>, Launch) override {
    throw Error(ncclInvalidUsage, "this Prism was built without CUDA (PRISM_CUDA=OFF)");
  }
  bool needsHostRendezvous(std::span<const Operation>, Launch) const override { return false; }
  ncclResult_t asyncError() override { return ncclSuccess; }
  void abort() override {}
};

}  // namespace

bool available() { return false; }
Side sideOf(const void*) { return Side::Host; }
int currentDevice() { return -1; }

void* allocate(size_t) {
  throw Error(ncclInvalidUsage, "this Prism was built without CUDA (PRISM_CUDA=OFF)");
}
void release(void*) {}

std::unique_ptr<Engine> Engine::create(PathContext&, SetupChannel&) {
  return std::make_unique<NoEngine>();
}

}  // namespace prism::device

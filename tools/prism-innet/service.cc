#include "tools/prism-innet/service.h"

#include <thread>

#include "tools/prism-innet/loop.h"

namespace prism::innet {

Service::Service(const net::SocketAddress& address, ServiceOptions options)
    : listener_(net::Socket::listen(address)), options_(options) {
  int threads = std::max(1, options_.threads);
  for (int i = 0; i < threads; ++i) {
    loops_.push_back(std::make_unique<Loop>(*this, i, i == 0 ? listener_.fd() : -1));
  }
}

Service::~Service() = default;

void Service::run(const std::atomic<bool>& stop) {
  std::vector<std::thread> helpers;
  for (size_t i = 1; i < loops_.size(); ++i) {
    helpers.emplace_back([this, i, &stop] { loops_[i]->run(stop); });
  }
  loops_[0]->run(stop);
  for (std::thread& t : helpers) t.join();
}

}  // namespace prism::innet

/// Runs `ranks` ranks as threads of this process, each joining one communicator through a
/// unique id. The first exception a rank throws is rethrown to the caller after every
/// thread has ended (a failing rank aborts the others through the library's timeout).
#pragma once

#include <functional>

#include "prism/comm.hpp"

namespace prism::train {

void runThreadRanks(int ranks, const std::function<void(Comm& world)>& body);

}  // namespace prism::train

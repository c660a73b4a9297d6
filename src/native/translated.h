// The native API reports failures as prism::CommError; internal code throws prism::Error.
#pragma once

#include "base/error.h"
#include "prism/comm.hpp"

namespace prism::native {

/// Runs `body`, turning internal errors into CommError.
template <typename Body>
auto translated(Body&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const Error& e) {
    throw CommError(e.code(), e.what());
  }
}

}  // namespace prism::native

#include "transports/ucx/ucx_api.h"

#include <dlfcn.h>

#include <mutex>
#include <string>

#include "base/error.h"

namespace prism::ucx {

namespace {

constexpr const char* kLibrary = "libucp.so.0";

template <typename F>
void bind(void* library, F& slot, const char* name) {
  void* symbol = ::dlsym(library, name);
  if (symbol == nullptr) {
    throw Error(ncclSystemError,
                std::string("ucx transport: ") + kLibrary + " lacks " + name + " (UCX too old?)");
  }
  slot = reinterpret_cast<F>(symbol);
}

Api load() {
  // Never closed: UCX's threads and handlers outlive any one transport.
  void* library = ::dlopen(kLibrary, RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    const char* why = ::dlerror();
    throw Error(ncclSystemError, std::string("ucx transport: cannot load ") + kLibrary + ": " +
                                     (why != nullptr ? why : "unknown error") +
                                     " (install libucx0, or choose another PRISM_TRANSPORT)");
  }
  Api api{};
  bind(library, api.init_version, "ucp_init_version");
  bind(library, api.cleanup, "ucp_cleanup");
  bind(library, api.config_read, "ucp_config_read");
  bind(library, api.config_modify, "ucp_config_modify");
  bind(library, api.config_release, "ucp_config_release");
  bind(library, api.worker_create, "ucp_worker_create");
  bind(library, api.worker_destroy, "ucp_worker_destroy");
  bind(library, api.worker_get_efd, "ucp_worker_get_efd");
  bind(library, api.worker_arm, "ucp_worker_arm");
  bind(library, api.worker_progress, "ucp_worker_progress");
  bind(library, api.worker_get_address, "ucp_worker_get_address");
  bind(library, api.worker_release_address, "ucp_worker_release_address");
  bind(library, api.worker_set_am_recv_handler, "ucp_worker_set_am_recv_handler");
  bind(library, api.worker_flush_nbx, "ucp_worker_flush_nbx");
  bind(library, api.ep_create, "ucp_ep_create");
  bind(library, api.ep_close_nbx, "ucp_ep_close_nbx");
  bind(library, api.ep_print_info, "ucp_ep_print_info");
  bind(library, api.mem_map, "ucp_mem_map");
  bind(library, api.mem_unmap, "ucp_mem_unmap");
  bind(library, api.am_send_nbx, "ucp_am_send_nbx");
  bind(library, api.am_recv_data_nbx, "ucp_am_recv_data_nbx");
  bind(library, api.request_check_status, "ucp_request_check_status");
  bind(library, api.request_free, "ucp_request_free");
  bind(library, api.ep_evaluate_perf, "ucp_ep_evaluate_perf");
  bind(library, api.am_data_release, "ucp_am_data_release");
  // libucs comes with libucp; a handle's lookup searches its dependencies too.
  bind(library, api.status_string, "ucs_status_string");
  return api;
}

}  // namespace

const Api& api() {
  static std::once_flag once;
  static Api loaded{};
  static std::string failure;
  std::call_once(once, [] {
    try {
      loaded = load();
    } catch (const Error& e) {
      failure = e.what();
    }
  });
  if (!failure.empty()) throw Error(ncclSystemError, failure);
  return loaded;
}

}  // namespace prism::ucx

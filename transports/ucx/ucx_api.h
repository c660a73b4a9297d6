// UCP, loaded when a UCX transport is first created rather than linked: loading UCX
// installs its own handlers for SIGSEGV and other error signals and hooks memory calls, and
// a program that links libnccl.so.2 but never uses UCX must not get them. Every call into
// UCP goes through api(); the headers give the types and the inline helpers.
#pragma once

#include <ucp/api/ucp.h>

namespace prism::ucx {

struct Api {
  decltype(&ucp_init_version) init_version;
  decltype(&ucp_cleanup) cleanup;
  decltype(&ucp_config_read) config_read;
  decltype(&ucp_config_modify) config_modify;
  decltype(&ucp_config_release) config_release;
  decltype(&ucp_worker_create) worker_create;
  decltype(&ucp_worker_destroy) worker_destroy;
  decltype(&ucp_worker_get_efd) worker_get_efd;
  decltype(&ucp_worker_arm) worker_arm;
  decltype(&ucp_worker_progress) worker_progress;
  decltype(&ucp_worker_get_address) worker_get_address;
  decltype(&ucp_worker_release_address) worker_release_address;
  decltype(&ucp_worker_set_am_recv_handler) worker_set_am_recv_handler;
  decltype(&ucp_worker_flush_nbx) worker_flush_nbx;
  decltype(&ucp_ep_create) ep_create;
  decltype(&ucp_ep_close_nbx) ep_close_nbx;
  decltype(&ucp_ep_print_info) ep_print_info;
  decltype(&ucp_ep_evaluate_perf) ep_evaluate_perf;
  decltype(&ucp_mem_map) mem_map;
  decltype(&ucp_mem_unmap) mem_unmap;
  decltype(&ucp_am_send_nbx) am_send_nbx;
  decltype(&ucp_am_recv_data_nbx) am_recv_data_nbx;
  decltype(&ucp_am_data_release) am_data_release;
  decltype(&ucp_request_check_status) request_check_status;
  decltype(&ucp_request_free) request_free;
  decltype(&ucs_status_string) status_string;

  /// ucp_init, which the header defines inline over ucp_init_version.
  ucs_status_t init(const ucp_params_t* params, const ucp_config_t* config,
                    ucp_context_h* context) const {
    return init_version(UCP_API_MAJOR, UCP_API_MINOR, params, config, context);
  }
};

/// The loaded library. Loads it on the first call; throws prism::Error(ncclSystemError)
/// naming the library or the symbol when it cannot (as when only the headers are present).
const Api& api();

}  // namespace prism::ucx

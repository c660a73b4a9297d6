#include "transports/ucx/ucx_worker.h"

#include <sys/mman.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "base/error.h"
#include "base/log.h"
#include "transports/ucx/ucx_api.h"

namespace prism::ucx {

namespace {

// How long teardown waits for each forced endpoint close; the close never needs the peer.
constexpr auto kCloseTimeout = std::chrono::seconds(2);

/// Waits for `request` (a ucs_status_ptr_t) by driving `worker`, up to `deadline`.
/// Returns its status, or UCS_ERR_TIMED_OUT (the request is then left to UCX).
ucs_status_t await(ucp_worker_h worker, ucs_status_ptr_t request,
                   std::chrono::steady_clock::time_point deadline) {
  if (request == nullptr) return UCS_OK;
  if (UCS_PTR_IS_ERR(request)) return UCS_PTR_STATUS(request);
  ucs_status_t status;
  while ((status = ucx::api().request_check_status(request)) == UCS_INPROGRESS) {
    if (std::chrono::steady_clock::now() >= deadline) return UCS_ERR_TIMED_OUT;
    ucx::api().worker_progress(worker);
  }
  ucx::api().request_free(request);
  return status;
}

}  // namespace

void checkStatus(ucs_status_t status, const char* what) {
  if (status == UCS_OK) return;
  throw Error(ncclSystemError,
              std::string("ucx transport: ") + what + ": " + ucx::api().status_string(status));
}

Worker::Worker(size_t regionBytes) : regionBytes_(regionBytes) {
  ucp_config_t* config = nullptr;
  checkStatus(ucx::api().config_read(nullptr, nullptr, &config), "reading UCX_* settings");
  // Prism registers its one region itself (ucp_mem_map) and never hands UCX unregistered
  // memory to send, so UCX's registration and memory-type caches would buy nothing; they
  // also hook the application's mmap and munmap, and a process forked while another thread
  // held their lock deadlocks in ucp_init. Off unless the user turned them on.
  for (const char* cache : {"RCACHE_ENABLE", "MEMTYPE_CACHE"}) {
    if (std::getenv((std::string("UCX_") + cache).c_str()) == nullptr) {
      (void)ucx::api().config_modify(config, cache, "n");
    }
  }
  ucp_params_t params{};
  params.field_mask = UCP_PARAM_FIELD_FEATURES;
  params.features = UCP_FEATURE_AM | UCP_FEATURE_WAKEUP;
  const ucs_status_t init = ucx::api().init(&params, config, &context_);
  ucx::api().config_release(config);
  checkStatus(init, "ucp_init");
  try {
    ucp_worker_params_t workerParams{};
    workerParams.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
    workerParams.thread_mode = UCS_THREAD_MODE_SERIALIZED;
    checkStatus(ucx::api().worker_create(context_, &workerParams, &worker_), "ucp_worker_create");
    checkStatus(ucx::api().worker_get_efd(worker_, &eventFd_), "ucp_worker_get_efd");
    void* mapped =
        ::mmap(nullptr, regionBytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapped == MAP_FAILED) throwSystemError("ucx transport: mmap of the slot region");
    region_ = static_cast<std::byte*>(mapped);
    std::memset(region_, 0, regionBytes_);  // every page faulted in now, not per message
    ucp_mem_map_params_t map{};
    map.field_mask = UCP_MEM_MAP_PARAM_FIELD_ADDRESS | UCP_MEM_MAP_PARAM_FIELD_LENGTH;
    map.address = region_;
    map.length = regionBytes_;
    checkStatus(ucx::api().mem_map(context_, &map, &memh_), "registering the slot region");
  } catch (...) {
    release();
    throw;
  }
}

Worker::~Worker() { release(); }

double Worker::estimatedSeconds(int peer, size_t bytes) const {
  ucp_ep_h ep = endpoint(peer);
  if (ep == nullptr) return -1;
  ucp_ep_evaluate_perf_param_t param{};
  param.field_mask = UCP_EP_PERF_PARAM_FIELD_MESSAGE_SIZE;
  param.message_size = bytes;
  ucp_ep_evaluate_perf_attr_t attr{};
  attr.field_mask = UCP_EP_PERF_ATTR_FIELD_ESTIMATED_TIME;
  if (ucx::api().ep_evaluate_perf(ep, &param, &attr) != UCS_OK) return -1;
  return attr.estimated_time;
}

ucp_mem_h Worker::registerMemory(void* data, size_t bytes) {
  ucp_mem_map_params_t map{};
  map.field_mask = UCP_MEM_MAP_PARAM_FIELD_ADDRESS | UCP_MEM_MAP_PARAM_FIELD_LENGTH;
  map.address = data;
  map.length = bytes;
  ucp_mem_h memh = nullptr;
  checkStatus(ucx::api().mem_map(context_, &map, &memh), "registering a user buffer");
  userRegions_.push_back({static_cast<const std::byte*>(data), bytes, memh});
  return memh;
}

void Worker::unregister(ucp_mem_h memh) {
  for (auto it = userRegions_.begin(); it != userRegions_.end(); ++it) {
    if (it->memh != memh) continue;
    (void)ucx::api().mem_unmap(context_, memh);
    userRegions_.erase(it);
    return;
  }
}

ucp_mem_h Worker::registrationOf(const void* data, size_t bytes) const {
  const auto* p = static_cast<const std::byte*>(data);
  for (const UserRegion& r : userRegions_) {
    if (p >= r.base && bytes <= r.bytes && static_cast<size_t>(p - r.base) <= r.bytes - bytes) {
      return r.memh;
    }
  }
  return nullptr;
}

void Worker::release() {
  const auto deadline = std::chrono::steady_clock::now() + kCloseTimeout;
  for (ucp_ep_h& ep : endpoints_) {
    if (ep == nullptr) continue;
    ucp_request_param_t param{};
    param.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
    param.flags = UCP_EP_CLOSE_FLAG_FORCE;
    (void)await(worker_, ucx::api().ep_close_nbx(ep, &param), deadline);
    ep = nullptr;
  }
  if (memh_ != nullptr) ucx::api().mem_unmap(context_, memh_);
  memh_ = nullptr;
  for (const UserRegion& r : userRegions_) (void)ucx::api().mem_unmap(context_, r.memh);
  userRegions_.clear();
  if (region_ != nullptr) ::munmap(region_, regionBytes_);
  region_ = nullptr;
  if (worker_ != nullptr) ucx::api().worker_destroy(worker_);
  worker_ = nullptr;
  if (context_ != nullptr) ucx::api().cleanup(context_);
  context_ = nullptr;
}

std::vector<std::byte> Worker::address() const {
  ucp_address_t* address = nullptr;
  size_t length = 0;
  checkStatus(ucx::api().worker_get_address(worker_, &address, &length), "ucp_worker_get_address");
  std::vector<std::byte> bytes(length);
  std::memcpy(bytes.data(), address, length);
  ucx::api().worker_release_address(worker_, address);
  return bytes;
}

void Worker::onEndpointError(void* arg, ucp_ep_h, ucs_status_t status) {
  auto* context = static_cast<FailureContext*>(arg);
  Worker* self = context->worker;
  if (self->onFailure_ != nullptr) self->onFailure_(self->failureArg_, context->peer, status);
}

void Worker::connect(const std::vector<std::vector<std::byte>>& addresses, PeerFailure onFailure,
                     void* arg) {
  onFailure_ = onFailure;
  failureArg_ = arg;
  endpoints_.assign(addresses.size(), nullptr);
  failureContexts_.resize(addresses.size());  // never resized again: UCX holds pointers
  for (size_t peer = 0; peer < addresses.size(); ++peer) {
    if (addresses[peer].empty()) continue;
    failureContexts_[peer] = {this, static_cast<int>(peer)};
    ucp_ep_params_t params{};
    params.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE |
                        UCP_EP_PARAM_FIELD_ERR_HANDLER;
    params.address = reinterpret_cast<const ucp_address_t*>(addresses[peer].data());
    params.err_mode = UCP_ERR_HANDLING_MODE_PEER;
    params.err_handler.cb = &Worker::onEndpointError;
    params.err_handler.arg = &failureContexts_[peer];
    if (ucx::api().ep_create(worker_, &params, &endpoints_[peer]) == UCS_OK) continue;
    // UCX's shared-memory transports cannot report a peer's failure: such a peer (on this
    // host) is watched by Prism's own peer watch instead.
    endpoints_[peer] = nullptr;
    params.field_mask &= ~uint64_t{UCP_EP_PARAM_FIELD_ERR_HANDLER};
    params.err_mode = UCP_ERR_HANDLING_MODE_NONE;
    checkStatus(ucx::api().ep_create(worker_, &params, &endpoints_[peer]),
                ("connecting to rank " + std::to_string(peer)).c_str());
    log::info(log::kNet,
              "ucx transport: the transport to rank %zu cannot report peer failures; "
              "Prism's peer watch detects that rank's death instead",
              peer);
  }
}

void Worker::onActiveMessage(unsigned id, ucp_am_recv_callback_t callback, void* arg) {
  ucp_am_handler_param_t param{};
  param.field_mask = UCP_AM_HANDLER_PARAM_FIELD_ID | UCP_AM_HANDLER_PARAM_FIELD_CB |
                     UCP_AM_HANDLER_PARAM_FIELD_ARG;
  param.id = id;
  param.cb = callback;
  param.arg = arg;
  checkStatus(ucx::api().worker_set_am_recv_handler(worker_, &param),
              "setting an active message handler");
}

bool Worker::flush(double seconds) {
  ucp_request_param_t param{};
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                            std::chrono::duration<double>(seconds));
  return await(worker_, ucx::api().worker_flush_nbx(worker_, &param), deadline) == UCS_OK;
}

std::string Worker::describe(int peer) const {
  ucp_ep_h ep = endpoint(peer);
  if (ep == nullptr) return {};
  char* text = nullptr;
  size_t length = 0;
  FILE* stream = ::open_memstream(&text, &length);
  if (stream == nullptr) return {};
  ucx::api().ep_print_info(ep, stream);
  std::fclose(stream);
  std::string result(text, length);
  std::free(text);
  return result;
}

}  // namespace prism::ucx

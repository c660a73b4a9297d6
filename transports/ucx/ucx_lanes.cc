// Reading UCX's own description of an endpoint, in every build: it needs no UCX headers.
#include <filesystem>
#include <regex>

#include "transports/ucx/ucx_transport.h"

namespace prism {

bool ucxLanesAreRdma(const std::string& endpointInfo) {
  // ucp_ep_print_info names each lane's transport as "<tl>/<device>", as in
  // "rc_mlx5/mlx5_0:1" or "tcp/eth0". The RDMA transports: InfiniBand and RoCE reliable,
  // dynamically connected and unreliable datagram (verbs or mlx5 accelerated), and EFA's
  // scalable reliable datagram.
  static const std::regex kRdmaLane(
      R"((^|[^A-Za-z0-9_])(rc|dc|ud)(_verbs|_mlx5)?/|(^|[^A-Za-z0-9_])srd/)");
  return std::regex_search(endpointInfo, kRdmaLane);
}

bool ucxLanesAreSockets(const std::string& endpointInfo) {
  // Every "lane[i]:  n:<tl>/<device>" line names tcp.
  static const std::regex kLane(R"(lane\[\d+\]:\s+\d+:([A-Za-z0-9_]+)/)");
  bool any = false;
  for (auto it = std::sregex_iterator(endpointInfo.begin(), endpointInfo.end(), kLane);
       it != std::sregex_iterator(); ++it) {
    if ((*it)[1] != "tcp") return false;
    any = true;
  }
  return any;
}

bool rdmaDevicesPresent() {
  std::error_code error;
  std::filesystem::directory_iterator devices("/sys/class/infiniband", error);
  return !error && devices != std::filesystem::directory_iterator();
}

}  // namespace prism

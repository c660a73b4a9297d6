// Export of one host of the graph as NCCL's topology XML (what NCCL_TOPO_DUMP_FILE holds in
// NCCL), which NCCL_TOPO_FILE reads back, in NCCL and in Prism (nccl_xml.cc): every NUMA
// node becomes a <cpu>, PCIe switches nested <pci> bridges, GPUs a <pci> with <gpu> and its
// <nvlink>s, NICs <nic><net>. Attributes Prism does not model (vendor and device ids,
// affinity masks) are left out; NCCL fills in defaults for them.
#include <cmath>
#include <cstdio>
#include <functional>
#include <set>
#include <string>

#include "topology/fabric_file.h"
#include "topology/fabric_parts.h"

namespace prism::topo {

namespace {

// NCCL's PCI class codes.
constexpr const char* kBridgeClass = "0x060400";
constexpr const char* kGpuClass = "0x030200";
constexpr const char* kNicClass = "0x020700";
// GPUs are written as sm 90, whose per-link NVLink bandwidth the counts are in.
constexpr int kSm = 90;
constexpr int kPcieWidth = 16;

std::string attr(const char* key, const std::string& value) {
  std::string escaped;
  for (char c : value) {
    switch (c) {
      case '"':
        escaped += "&quot;";
        break;
      case '&':
        escaped += "&amp;";
        break;
      case '<':
        escaped += "&lt;";
        break;
      default:
        escaped += c;
    }
  }
  return std::string(" ") + key + "=\"" + escaped + "\"";
}

/// link_speed and link_width that Prism's import turns back into `bandwidth` GB/s.
std::string pciLink(double bandwidth) {
  const double gts = bandwidth * 8.0 / (kPcieWidth * 128.0 / 130.0);
  char speed[32];
  std::snprintf(speed, sizeof(speed), "%.1f GT/s PCIe", gts);
  return attr("link_speed", speed) + attr("link_width", std::to_string(kPcieWidth));
}

class Writer {
 public:
  Writer(const Graph& g, int host) : g_(g), host_(host), inc_(g.incidence()) {}

  std::string run() {
    out_ = "<?xml version=\"1.0\"?>\n<system version=\"1\">\n";
    for (int numa : g_.devicesOf(host_, NodeKind::Numa)) {
      out_ += "  <cpu" + attr("numaid", std::to_string(g_.nodes[numa].index)) +
              attr("arch", "x86_64") + ">\n";
      visited_.insert(numa);
      children(numa, 2);
      out_ += "  </cpu>\n";
    }
    out_ += "</system>\n";
    return out_;
  }

 private:
  std::string indent(int depth) const { return std::string(static_cast<size_t>(depth) * 2, ' '); }

  /// The PCIe neighbours of `node` not yet written, in id order.
  void children(int node, int depth) {
    for (int li : inc_[node]) {
      const Link& l = g_.links[li];
      if (l.kind != LinkKind::Pcie) continue;
      const int other = l.a == node ? l.b : l.a;
      if (visited_.count(other) != 0) continue;
      visited_.insert(other);
      write(other, l.bandwidth, depth);
    }
  }

  void write(int id, double bandwidth, int depth) {
    const Node& n = g_.nodes[id];
    const std::string in = indent(depth);
    if (n.kind == NodeKind::PciSwitch) {
      out_ += in + "<pci" + attr("busid", n.address) + attr("class", kBridgeClass) +
              pciLink(bandwidth) + ">\n";
      children(id, depth + 1);
      out_ += in + "</pci>\n";
    } else if (n.kind == NodeKind::Gpu) {
      out_ += in + "<pci" + attr("busid", n.address) + attr("class", kGpuClass) +
              pciLink(bandwidth) + ">\n";
      out_ += in + "  <gpu" + attr("dev", std::to_string(n.index)) +
              attr("sm", std::to_string(kSm)) + attr("rank", std::to_string(n.index)) +
              attr("gdr", "1") + ">\n";
      nvlinks(id, depth + 2);
      out_ += in + "  </gpu>\n" + in + "</pci>\n";
    } else if (n.kind == NodeKind::Nic) {
      out_ += in + "<pci" + attr("busid", "0000:" + std::to_string(0xe0 + n.index) + ":00.0") +
              attr("class", kNicClass) + pciLink(bandwidth) + ">\n";
      const long mbps = std::lround(n.bandwidth * 8000.0);
      out_ += in + "  <nic>\n" + in + "    <net" + attr("name", n.address) +
              attr("dev", std::to_string(n.index)) + attr("speed", std::to_string(mbps)) +
              attr("port", "1") + attr("latency", "0.000000") + attr("maxconn", "131072") +
              attr("gdr", "0") + "/>\n" + in + "  </nic>\n" + in + "</pci>\n";
    }
  }

  void nvlinks(int gpu, int depth) {
    for (int li : inc_[gpu]) {
      const Link& l = g_.links[li];
      if (l.kind != LinkKind::NvLink) continue;
      const Node& peer = g_.nodes[l.a == gpu ? l.b : l.a];
      const long count = std::max(1L, std::lround(l.bandwidth / nvlinkPerLinkBandwidth(kSm)));
      const bool toSwitch = peer.kind == NodeKind::NvSwitch;
      out_ += indent(depth) + "<nvlink" +
              attr("target", toSwitch ? std::string("0000:ff:00.0") : peer.address) +
              attr("count", std::to_string(count)) +
              attr("tclass", toSwitch ? kNcclNvSwitchClass : kGpuClass) + "/>\n";
    }
  }

  const Graph& g_;
  int host_;
  std::vector<std::vector<int>> inc_;
  std::set<int> visited_;
  std::string out_;
};

}  // namespace

std::string toNcclXml(const Graph& graph, int host) { return Writer(graph, host).run(); }

}  // namespace prism::topo

// Import of NCCL's topology XML (the NCCL_TOPO_FILE / NCCL_TOPO_DUMP_FILE format) as one
// host: <cpu> becomes a socket with its NUMA node, <pci> bridges become PCIe switches,
// <gpu> and <nic>/<net> become devices, <nvlink> becomes NVLink links.
#include <algorithm>
#include <cstdlib>
#include <map>

#include "base/error.h"
#include "topology/fabric_file.h"
#include "topology/fabric_parts.h"
#include "topology/xml_reader.h"

namespace prism::topo {

namespace {

struct PendingNvLink {
  int gpu;
  std::string target;
  std::string tclass;
  int count;
  int line;
};

class Importer {
 public:
  explicit Importer(const std::string& source) : source_(source) {}

  Graph run(const XmlElement& root) {
    if (root.name != "system") fail(root, "the root element must be <system>");
    Node host = makeNode(NodeKind::Host, "host0");
    host_ = g_.addNode(std::move(host));
    std::vector<int> packages;
    for (const XmlElement& cpu : root.children) {
      if (cpu.name != "cpu") continue;
      const int index = static_cast<int>(packages.size());
      Node p = makeNode(NodeKind::Package, "host0/socket" + std::to_string(index), host_);
      p.index = index;
      const int pkg = g_.addNode(std::move(p));
      for (int other : packages) {
        g_.addLink(other, pkg, LinkKind::InterSocket, kInterSocketBandwidth, kInterSocketLatency);
      }
      packages.push_back(pkg);
      Node n = makeNode(NodeKind::Numa, "", host_);
      n.index = integer(cpu, "numaid", index);
      n.name = "host0/numa" + std::to_string(n.index);
      if (g_.find(n.name) >= 0) fail(cpu, "numaid " + std::to_string(n.index) + " repeated");
      const int numa = g_.addNode(std::move(n));
      g_.addLink(numa, pkg, LinkKind::Memory, kMemoryBandwidth, kMemoryLatency);
      for (const XmlElement& child : cpu.children) walk(child, numa, numa);
    }
    if (packages.empty()) fail(root, "no <cpu> element");
    connectNvLinks();
    return std::move(g_);
  }

 private:
  [[noreturn]] void fail(const XmlElement& e, const std::string& reason) const {
    throw Error(ncclInvalidArgument,
                source_ + ":" + std::to_string(e.line) + ": <" + e.name + ">: " + reason);
  }

  int integer(const XmlElement& e, const char* key, int fallback) const {
    if (!e.has(key)) return fallback;
    const std::string s = e.attr(key);
    char* end = nullptr;
    const long v = std::strtol(s.c_str(), &end, 0);
    if (s.empty() || *end != '\0' || v < 0 || v > (1 << 24)) {
      fail(e, std::string("attribute ") + key + "=\"" + s + "\" is not a non-negative integer");
    }
    return static_cast<int>(v);
  }

  /// GB/s of a PCIe link from link_speed ("16.0 GT/s PCIe") and link_width.
  double pciBandwidth(const XmlElement& e) const {
    if (!e.has("link_speed") || !e.has("link_width")) return kPcieBandwidth;
    const double gts = std::strtod(e.attr("link_speed").c_str(), nullptr);
    const int width = integer(e, "link_width", 16);
    if (!(gts > 0) || width == 0) return kPcieBandwidth;
    // 8b/10b coding up to 5 GT/s, 128b/130b from 8 GT/s.
    const double efficiency = gts < 8 ? 0.8 : 128.0 / 130.0;
    return gts * efficiency * width / 8.0;
  }

  void walk(const XmlElement& e, int parent, int numa) {
    if (e.name == "nic") {
      addNics(e, parent, numa, kPcieBandwidth);
      return;
    }
    if (e.name != "pci") return;
    const double bw = pciBandwidth(e);
    for (const XmlElement& c : e.children) {
      if (c.name == "gpu") {
        addGpu(c, e, parent, numa, bw);
        return;
      }
      if (c.name == "nic") {
        addNics(c, parent, numa, bw);
        return;
      }
    }
    if (e.children.empty()) return;  // an endpoint Prism does not model (NVSwitch, NVMe)
    Node sw = makeNode(NodeKind::PciSwitch, "host0/pci" + e.attr("busid"), host_);
    sw.index = pciSwitches_++;
    sw.numa = numa;
    sw.address = e.attr("busid");
    if (g_.find(sw.name) >= 0) fail(e, "busid " + e.attr("busid") + " repeated");
    const int id = g_.addNode(std::move(sw));
    g_.addLink(id, parent, LinkKind::Pcie, bw, kPcieLatency);
    for (const XmlElement& c : e.children) walk(c, id, numa);
  }

  void addGpu(const XmlElement& gpu, const XmlElement& pci, int parent, int numa, double bw) {
    if (!gpu.has("dev")) fail(gpu, "missing attribute dev");
    Node n = makeNode(NodeKind::Gpu, "", host_);
    n.index = integer(gpu, "dev", 0);
    n.name = "host0/gpu" + std::to_string(n.index);
    n.numa = numa;
    n.address = lower(pci.attr("busid"));
    if (n.address.empty()) fail(pci, "a GPU's <pci> needs a busid");
    if (g_.find(n.name) >= 0) fail(gpu, "GPU dev " + std::to_string(n.index) + " repeated");
    const int id = g_.addNode(std::move(n));
    g_.addLink(id, parent, LinkKind::Pcie, bw, kPcieLatency);
    gpuByBus_[g_.nodes[id].address] = id;
    perLink_[id] = nvlinkPerLinkBandwidth(integer(gpu, "sm", 80));
    for (const XmlElement& l : gpu.children) {
      if (l.name != "nvlink") continue;
      if (!l.has("target")) fail(l, "missing attribute target");
      nvlinks_.push_back({id, lower(l.attr("target")), lower(l.attr("tclass")),
                          std::max(1, integer(l, "count", 1)), l.line});
    }
  }

  void addNics(const XmlElement& nic, int parent, int numa, double bw) {
    for (const XmlElement& net : nic.children) {
      if (net.name != "net") continue;
      Node n = makeNode(NodeKind::Nic, "", host_);
      n.index = nics_++;
      n.rail = n.index;
      n.name = "host0/nic" + std::to_string(n.index);
      n.numa = numa;
      n.address = net.attr("name");
      const int mbps = integer(net, "speed", 100000);
      n.bandwidth = mbps > 0 ? mbps / 8000.0 : kNicBandwidth;
      const int id = g_.addNode(std::move(n));
      g_.addLink(id, parent, LinkKind::Pcie, bw, kPcieLatency);
    }
  }

  static std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }

  void connectNvLinks() {
    // All of a GPU's links to NVSwitches become one link to a single NvSwitch node (the
    // switches of a domain act as one crossbar), its bandwidth the sum of the links.
    std::map<int, double> toSwitch;
    for (const PendingNvLink& l : nvlinks_) {
      const double bw = l.count * perLink_[l.gpu];
      auto peer = gpuByBus_.find(l.target);
      if (peer != gpuByBus_.end()) {
        // NCCL lists a GPU pair from both sides; keep one link.
        if (l.gpu < peer->second) {
          g_.addLink(l.gpu, peer->second, LinkKind::NvLink, bw, kNvLinkLatency);
        }
        continue;
      }
      if (l.tclass == kNcclNvSwitchClass) {
        toSwitch[l.gpu] += bw;
        continue;
      }
      if (l.tclass.rfind("0x0600", 0) == 0) continue;  // NVLink to a CPU (POWER): not modeled
      throw Error(ncclInvalidArgument, source_ + ":" + std::to_string(l.line) +
                                           ": <nvlink>: target " + l.target +
                                           " is neither a GPU nor an NVSwitch");
    }
    if (!toSwitch.empty()) {
      const int nvswitch = g_.addNode(makeNode(NodeKind::NvSwitch, "nvswitch0", host_));
      for (const auto& [gpu, bw] : toSwitch) {
        g_.addLink(gpu, nvswitch, LinkKind::NvLink, bw, kNvLinkLatency);
      }
    }
    // NVLink domains: connected components of GPUs (and NVSwitches) over NVLink.
    const auto inc = g_.incidence();
    std::vector<bool> seen(g_.nodes.size(), false);
    int next = 0;
    for (int gpu : g_.nodesOf(NodeKind::Gpu)) {
      if (seen[gpu]) continue;
      seen[gpu] = true;
      std::vector<int> stack{gpu}, members{gpu};
      while (!stack.empty()) {
        const int n = stack.back();
        stack.pop_back();
        for (int li : inc[n]) {
          const Link& l = g_.links[li];
          const int other = l.a == n ? l.b : l.a;
          if (l.kind != LinkKind::NvLink || seen[other]) continue;
          seen[other] = true;
          stack.push_back(other);
          members.push_back(other);
        }
      }
      if (members.size() == 1) continue;  // no NVLink at all
      for (int m : members) {
        if (g_.nodes[m].kind == NodeKind::Gpu) g_.nodes[m].nvlinkDomain = next;
      }
      ++next;
    }
  }

  const std::string& source_;
  Graph g_;
  int host_ = -1;
  int pciSwitches_ = 0;
  int nics_ = 0;
  std::map<std::string, int> gpuByBus_;
  std::map<int, double> perLink_;
  std::vector<PendingNvLink> nvlinks_;
};

}  // namespace

Graph parseNcclXml(const std::string& text, const std::string& source) {
  return Importer(source).run(parseXml(text, source));
}

}  // namespace prism::topo

#include "topology/discover.h"

#include <hwloc.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>

#include "base/error.h"
#include "topology/fabric_parts.h"
#include "topology/nvlink.h"

#ifdef PRISM_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

namespace prism::topo {

namespace {

using TopologyPtr = std::unique_ptr<hwloc_topology, decltype(&hwloc_topology_destroy)>;

/// hwloc with only what Prism uses: packages, cores, NUMA nodes and L3 caches. I/O
/// discovery is off: with it hwloc scans every device in sysfs, which took longer than the
/// whole discovery budget, so NICs and GPUs are read from sysfs directly (addNics, addGpus).
TopologyPtr loadHwloc() {
  hwloc_topology_t t = nullptr;
  if (hwloc_topology_init(&t) != 0) throwSystemError("hwloc_topology_init");
  TopologyPtr topo(t, hwloc_topology_destroy);
  hwloc_topology_set_all_types_filter(t, HWLOC_TYPE_FILTER_KEEP_NONE);
  hwloc_topology_set_type_filter(t, HWLOC_OBJ_PACKAGE, HWLOC_TYPE_FILTER_KEEP_ALL);
  hwloc_topology_set_type_filter(t, HWLOC_OBJ_CORE, HWLOC_TYPE_FILTER_KEEP_ALL);
  hwloc_topology_set_type_filter(t, HWLOC_OBJ_L3CACHE, HWLOC_TYPE_FILTER_KEEP_ALL);
  if (hwloc_topology_load(t) != 0) throwSystemError("hwloc_topology_load");
  return topo;
}

std::string readLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

/// The Numa node (graph id) for a PCI device's sysfs folder (its numa_node file), else the
/// host's first.
int numaFor(const std::filesystem::path& device,
            const std::vector<std::pair<hwloc_obj_t, int>>& numas) {
  const std::string line = readLine((device / "numa_node").string());
  const long os = line.empty() ? -1 : std::strtol(line.c_str(), nullptr, 10);
  for (const auto& [numa, id] : numas) {
    if (static_cast<long>(numa->os_index) == os) return id;
  }
  return numas.front().second;
}

/// GB/s of a device's PCIe link from current_link_speed ("16.0 GT/s PCIe") and width.
double pcieBandwidth(const std::filesystem::path& device) {
  const double gts =
      std::strtod(readLine((device / "current_link_speed").string()).c_str(), nullptr);
  const long width =
      std::strtol(readLine((device / "current_link_width").string()).c_str(), nullptr, 10);
  if (!(gts > 0) || width <= 0) return kPcieBandwidth;
  const double efficiency = gts < 8 ? 0.8 : 128.0 / 130.0;  // 8b/10b, then 128b/130b
  return gts * efficiency * static_cast<double>(width) / 8.0;
}

void addPackagesAndNumas(Graph& g, hwloc_topology_t t, int host,
                         std::vector<std::pair<hwloc_obj_t, int>>& numas) {
  std::vector<std::pair<hwloc_obj_t, int>> packages;
  const int npkg = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PACKAGE);
  for (int i = 0; i < std::max(npkg, 1); ++i) {
    hwloc_obj_t obj =
        npkg > 0 ? hwloc_get_obj_by_type(t, HWLOC_OBJ_PACKAGE, i) : hwloc_get_root_obj(t);
    Node p = makeNode(NodeKind::Package, "host0/socket" + std::to_string(i), host);
    p.index = i;
    p.cores = hwloc_get_nbobjs_inside_cpuset_by_type(t, obj->cpuset, HWLOC_OBJ_CORE);
    const int nl3 = hwloc_get_nbobjs_inside_cpuset_by_type(t, obj->cpuset, HWLOC_OBJ_L3CACHE);
    for (int c = 0; c < nl3; ++c) {
      hwloc_obj_t l3 = hwloc_get_obj_inside_cpuset_by_type(t, obj->cpuset, HWLOC_OBJ_L3CACHE, c);
      p.cacheBytes += static_cast<int64_t>(l3->attr->cache.size);
    }
    const int id = g.addNode(std::move(p));
    for (const auto& [other, otherId] : packages) {
      g.addLink(otherId, id, LinkKind::InterSocket, kInterSocketBandwidth, kInterSocketLatency);
    }
    packages.emplace_back(obj, id);
  }
  const int nnuma = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_NUMANODE);
  for (int i = 0; i < nnuma; ++i) {
    hwloc_obj_t obj = hwloc_get_obj_by_type(t, HWLOC_OBJ_NUMANODE, i);
    Node n = makeNode(NodeKind::Numa, "host0/numa" + std::to_string(obj->os_index), host);
    n.index = static_cast<int>(obj->os_index);
    n.cores = hwloc_get_nbobjs_inside_cpuset_by_type(t, obj->cpuset, HWLOC_OBJ_CORE);
    n.memoryBytes = static_cast<int64_t>(obj->attr->numanode.local_memory);
    const int id = g.addNode(std::move(n));
    int pkg = packages.front().second;
    for (const auto& [p, pid] : packages) {
      if (hwloc_bitmap_intersects(p->cpuset, obj->cpuset)) pkg = pid;
    }
    g.addLink(id, pkg, LinkKind::Memory, kMemoryBandwidth, kMemoryLatency);
    numas.emplace_back(obj, id);
  }
}

/// NICs: every network interface and InfiniBand device backed by a device (virtual
/// interfaces such as lo have none). An IPoIB interface and its HCA share one device, which
/// is counted once.
void addNics(Graph& g, int host, const std::vector<std::pair<hwloc_obj_t, int>>& numas) {
  std::set<std::string> seen;
  std::vector<std::pair<std::string, std::filesystem::path>> found;
  for (const char* root : {"/sys/class/infiniband", "/sys/class/net"}) {
    std::error_code ec;
    std::vector<std::filesystem::path> entries;
    for (const auto& e : std::filesystem::directory_iterator(root, ec)) entries.push_back(e.path());
    std::sort(entries.begin(), entries.end());
    for (const auto& entry : entries) {
      const auto device = std::filesystem::canonical(entry / "device", ec);
      if (ec || !seen.insert(device.string()).second) continue;
      found.emplace_back(entry.filename().string(), device);
    }
  }
  for (const auto& [name, device] : found) {
    Node n = makeNode(NodeKind::Nic, "host0/nic" + std::to_string(found.size()), host);
    n.index = static_cast<int>(g.devicesOf(host, NodeKind::Nic).size());
    n.name = "host0/nic" + std::to_string(n.index);
    n.rail = n.index;
    n.numa = numaFor(device, numas);
    n.address = name;
    n.bandwidth = nicSpeed(name);
    const int numa = n.numa;
    const int id = g.addNode(std::move(n));
    g.addLink(id, numa, LinkKind::Pcie, pcieBandwidth(device), kPcieLatency);
  }
}

#ifdef PRISM_HAVE_CUDA
/// GPUs from the CUDA runtime; NUMA node and PCIe speed from sysfs; NVLink from NVML
/// when the driver has it (topology/nvlink.h).
void addGpus(Graph& g, int host, const std::vector<std::pair<hwloc_obj_t, int>>& numas) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();
    return;
  }
  std::vector<std::string> busIds;
  for (int d = 0; d < count; ++d) {
    char bus[32] = {};
    if (cudaDeviceGetPCIBusId(bus, sizeof(bus), d) != cudaSuccess) continue;
    std::string busId = bus;
    for (char& c : busId) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const std::filesystem::path device = "/sys/bus/pci/devices/" + busId;
    Node n = makeNode(NodeKind::Gpu, "host0/gpu" + std::to_string(d), host);
    n.index = d;
    n.address = busId;
    n.numa = numaFor(device, numas);
    const int numa = n.numa;
    const int id = g.addNode(std::move(n));
    g.addLink(id, numa, LinkKind::Pcie, pcieBandwidth(device), kPcieLatency);
    busIds.push_back(busId);
  }
  addNvLinks(g, host, queryNvLinks(busIds));
}
#endif

}  // namespace

std::string hostIdentity() {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  char netns[64] = {};  // "net:[4026531840]"
  if (readlink("/proc/self/ns/net", netns, sizeof(netns) - 1) < 0) netns[0] = '\0';
  return std::string(host) + ":" + readLine("/proc/sys/kernel/random/boot_id") + ":" + netns;
}

double nicSpeed(const std::string& ifname) {
  const std::string speed = readLine("/sys/class/net/" + ifname + "/speed");
  if (!speed.empty()) {
    const long mbps = std::strtol(speed.c_str(), nullptr, 10);
    if (mbps > 0) return static_cast<double>(mbps) / 8000.0;
  }
  // "100 Gb/sec (4X EDR)"
  const std::string rate = readLine("/sys/class/infiniband/" + ifname + "/ports/1/rate");
  const double gbps = std::strtod(rate.c_str(), nullptr);
  return gbps > 0 ? gbps / 8.0 : 0;
}

Graph discoverLocal() {
  TopologyPtr topo = loadHwloc();
  hwloc_topology_t t = topo.get();
  Graph g;
  Node host = makeNode(NodeKind::Host, "host0");
  host.address = hostIdentity();
  const int h = g.addNode(std::move(host));
  std::vector<std::pair<hwloc_obj_t, int>> numas;
  addPackagesAndNumas(g, t, h, numas);
  if (numas.empty()) {
    throw Error(ncclSystemError, "hwloc reported no NUMA node");
  }
  addNics(g, h, numas);
#ifdef PRISM_HAVE_CUDA
  addGpus(g, h, numas);
#endif
  return g;
}

int currentNumaNode() {
  const int cpu = sched_getcpu();
  if (cpu < 0) return 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/sys/devices/system/node", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("node", 0) != 0) continue;
    if (std::filesystem::exists(entry.path() / ("cpu" + std::to_string(cpu)), ec)) {
      return std::atoi(name.c_str() + 4);
    }
  }
  return 0;
}

}  // namespace prism::topo

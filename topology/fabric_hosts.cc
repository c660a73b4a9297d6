// The "hosts" section of a fabric file: sockets, NUMA nodes, GPUs, NICs and the links
// inside each host. See docs/topology-format.md for the keys.
#include <map>
#include <set>

#include "topology/fabric_parts.h"

namespace prism::topo {

namespace {

struct NicSpec {
  double bandwidth = kNicBandwidth;
  int numa = -1;  // local NUMA index
  int gpu = -1;   // local GPU index sharing a PCIe switch
  int rail = -1;
};

std::vector<NicSpec> nicSpecs(const JsonView& host, int gpus) {
  std::vector<NicSpec> out;
  if (!host.has("nics")) return out;
  const JsonView nics = host.at("nics");
  if (nics.raw().is_number_integer()) {
    out.resize(static_cast<size_t>(host.integer("nics", 0)));
  } else if (nics.raw().is_object()) {
    nics.allowKeys({"count", "bw", "pair_with_gpus"});
    out.resize(static_cast<size_t>(nics.integer("count", 0)));
    const double bw = nics.number("bw", kNicBandwidth);
    const bool pair = nics.boolean("pair_with_gpus", false);
    if (pair && static_cast<int>(out.size()) > gpus) {
      nics.failAt("pair_with_gpus", std::to_string(out.size()) + " NICs cannot pair with " +
                                        std::to_string(gpus) + " GPUs");
    }
    for (size_t k = 0; k < out.size(); ++k) {
      out[k].bandwidth = bw;
      if (pair) out[k].gpu = static_cast<int>(k);
    }
  } else {
    for (size_t k = 0; k < nics.size(); ++k) {
      const JsonView nic = nics.at(k);
      nic.allowKeys({"bw", "numa", "gpu", "rail"});
      NicSpec s;
      s.bandwidth = nic.number("bw", kNicBandwidth);
      if (!(s.bandwidth > 0)) nic.failAt("bw", "bandwidth must be > 0");
      s.numa = nic.integer("numa", -1);
      s.gpu = nic.integer("gpu", -1);
      s.rail = nic.integer("rail", -1);
      if (s.gpu >= gpus) {
        nic.failAt("gpu", "GPU " + std::to_string(s.gpu) + " does not exist (the host has " +
                              std::to_string(gpus) + ")");
      }
      out.push_back(s);
    }
  }
  return out;
}

void addHost(Graph& g, const JsonView& v, int h, std::map<int, int>& nvswitchOfDomain) {
  v.allowKeys({"name", "address", "sockets", "numa", "cores", "memory_bw", "inter_socket_bw",
               "gpus", "pcie_bw", "nvlink", "nics"});
  Node hostNode = makeNode(NodeKind::Host, v.string("name", "host" + std::to_string(h)));
  hostNode.index = h;
  hostNode.address = v.string("address", "");
  if (g.find(hostNode.name) >= 0) v.failAt("name", "duplicate host name '" + hostNode.name + "'");
  const std::string prefix = hostNode.name + "/";
  const int host = g.addNode(std::move(hostNode));

  const int sockets = v.integer("sockets", 1, 1);
  const int numas = v.integer("numa", sockets, 1);
  if (numas % sockets != 0) {
    v.failAt("numa", std::to_string(numas) + " NUMA nodes do not divide evenly over " +
                         std::to_string(sockets) + " sockets");
  }
  const int cores = v.integer("cores", 0);
  const double memoryBw = v.number("memory_bw", kMemoryBandwidth);
  const double socketBw = v.number("inter_socket_bw", kInterSocketBandwidth);
  const double pcieBw = v.number("pcie_bw", kPcieBandwidth);
  if (!(memoryBw > 0) || !(socketBw > 0) || !(pcieBw > 0)) v.fail("bandwidths must be > 0");

  std::vector<int> packages;
  for (int s = 0; s < sockets; ++s) {
    Node p = makeNode(NodeKind::Package, prefix + "socket" + std::to_string(s), host);
    p.index = s;
    p.cores = cores / sockets;
    packages.push_back(g.addNode(std::move(p)));
    for (int other = 0; other < s; ++other) {
      g.addLink(packages[other], packages[s], LinkKind::InterSocket, socketBw, kInterSocketLatency);
    }
  }
  std::vector<int> numaIds;
  for (int n = 0; n < numas; ++n) {
    Node node = makeNode(NodeKind::Numa, prefix + "numa" + std::to_string(n), host);
    node.index = n;
    node.cores = cores / numas;
    numaIds.push_back(g.addNode(std::move(node)));
    g.addLink(numaIds.back(), packages[n / (numas / sockets)], LinkKind::Memory, memoryBw,
              kMemoryLatency);
  }

  const int gpus = v.integer("gpus", 0);
  double nvBw = 0;
  bool nvSwitch = true;
  int domain = h;
  if (v.has("nvlink")) {
    const JsonView nv = v.at("nvlink");
    nv.allowKeys({"bw", "lat", "domain", "switch"});
    if (!nv.has("bw")) nv.failAt("bw", "NVLink needs a bandwidth (GB/s)");
    nvBw = nv.number("bw", 0);
    if (!(nvBw > 0)) nv.failAt("bw", "bandwidth must be > 0");
    nvSwitch = nv.boolean("switch", true);
    domain = nv.integer("domain", h);
    if (gpus == 0) v.failAt("nvlink", "NVLink declared on a host without GPUs");
  }
  const double nvLat = v.has("nvlink") ? v.at("nvlink").number("lat", kNvLinkLatency) : 0;

  const std::vector<NicSpec> nics = nicSpecs(v, gpus);
  std::vector<int> pairedNic(static_cast<size_t>(gpus), -1);
  for (size_t k = 0; k < nics.size(); ++k) {
    if (nics[k].gpu >= 0) pairedNic[nics[k].gpu] = static_cast<int>(k);
    if (nics[k].numa >= numas) {
      v.at("nics").at(k).failAt("numa", "NUMA node " + std::to_string(nics[k].numa) +
                                            " does not exist (the host has " +
                                            std::to_string(numas) + ")");
    }
  }

  std::vector<int> gpuIds, gpuSwitch;
  for (int i = 0; i < gpus; ++i) {
    Node node = makeNode(NodeKind::Gpu, prefix + "gpu" + std::to_string(i), host);
    node.index = i;
    node.numa = numaIds[static_cast<size_t>(i * numas / gpus)];
    if (nvBw > 0) node.nvlinkDomain = domain;
    const int id = g.addNode(std::move(node));
    gpuIds.push_back(id);
    int parent = g.nodes[id].numa;
    if (pairedNic[i] >= 0) {
      Node sw = makeNode(NodeKind::PciSwitch, prefix + "pcisw" + std::to_string(i), host);
      sw.index = i;
      sw.numa = g.nodes[id].numa;
      parent = g.addNode(std::move(sw));
      g.addLink(parent, g.nodes[id].numa, LinkKind::Pcie, pcieBw, kPcieLatency);
    }
    gpuSwitch.push_back(parent);
    g.addLink(id, parent, LinkKind::Pcie, pcieBw, kPcieLatency);
  }
  if (nvBw > 0 && nvSwitch) {
    auto [it, fresh] = nvswitchOfDomain.try_emplace(domain, -1);
    if (fresh) {
      Node sw = makeNode(NodeKind::NvSwitch, "nvswitch" + std::to_string(domain), host);
      sw.index = domain;
      it->second = g.addNode(std::move(sw));
    } else {
      g.nodes[it->second].host = -1;  // the domain spans hosts
    }
    for (int id : gpuIds) g.addLink(id, it->second, LinkKind::NvLink, nvBw, nvLat);
  } else if (nvBw > 0) {
    for (size_t i = 0; i < gpuIds.size(); ++i) {
      for (size_t j = 0; j < i; ++j) {
        g.addLink(gpuIds[j], gpuIds[i], LinkKind::NvLink, nvBw, nvLat);
      }
    }
  }

  for (size_t k = 0; k < nics.size(); ++k) {
    const NicSpec& s = nics[k];
    Node node = makeNode(NodeKind::Nic, prefix + "nic" + std::to_string(k), host);
    node.index = static_cast<int>(k);
    node.rail = s.rail >= 0 ? s.rail : static_cast<int>(k);
    node.bandwidth = s.bandwidth;
    int parent;
    if (s.gpu >= 0) {
      parent = gpuSwitch[s.gpu];
      node.numa = g.nodes[gpuIds[s.gpu]].numa;
    } else {
      const int n =
          s.numa >= 0 ? s.numa : static_cast<int>(k) * numas / static_cast<int>(nics.size());
      node.numa = numaIds[n];
      parent = node.numa;
    }
    const int id = g.addNode(std::move(node));
    g.addLink(id, parent, LinkKind::Pcie, pcieBw, kPcieLatency);
  }
}

}  // namespace

void addHosts(Graph& graph, const JsonView& hosts) {
  std::map<int, int> nvswitchOfDomain;
  if (hosts.raw().is_object()) {
    hosts.allowKeys({"count", "host"});
    const int count = hosts.integer("count", 0, 1);
    if (!hosts.has("count")) hosts.failAt("count", "missing host count");
    const nlohmann::json empty = nlohmann::json::object();
    const JsonView spec = hosts.has("host")
                              ? hosts.at("host")
                              : JsonView(empty, hosts.source(), hosts.childPath("host"));
    if (spec.has("name")) spec.failAt("name", "a host template cannot name its hosts");
    for (int h = 0; h < count; ++h) addHost(graph, spec, h, nvswitchOfDomain);
    return;
  }
  for (size_t h = 0; h < hosts.size(); ++h) {
    addHost(graph, hosts.at(h), static_cast<int>(h), nvswitchOfDomain);
  }
}

}  // namespace prism::topo

// Topology: discovery on this machine, the golden fabric files, routing and groups over
// them, the JSON round trip, NCCL XML import and the errors bad files must give.
#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <set>

#include "base/error.h"
#include "topology/discover.h"
#include "topology/fabric_file.h"
#include "topology/render.h"
#include "topology/system.h"

namespace prism::topo {
namespace {

const std::filesystem::path kDir = std::filesystem::path(__FILE__).parent_path() / "topologies";

Graph load(const std::string& name) { return loadFabricFile((kDir / name).string()); }

/// n ranks on hosts "h<r / perHost>", GPU r % perHost (or none), NIC unspecified.
std::vector<RankInfo> ranks(int n, int perHost, bool gpus) {
  std::vector<RankInfo> out;
  for (int r = 0; r < n; ++r) {
    RankInfo info;
    info.host = "h" + std::to_string(r / perHost);
    info.gpu = gpus ? r % perHost : -1;
    out.push_back(info);
  }
  return out;
}

int countKind(const SystemTopology& s, const Path& p, LinkKind kind) {
  int n = 0;
  for (int l : p.links) n += s.graph().links[l].kind == kind;
  return n;
}

bool touches(const SystemTopology& s, const Path& p, const std::string& node) {
  const int id = s.graph().find(node);
  for (int l : p.links) {
    if (s.graph().links[l].a == id || s.graph().links[l].b == id) return true;
  }
  return false;
}

TEST(TopologyDiscovery, FindsPackagesNumaAndHost) {
  const auto start = std::chrono::steady_clock::now();
  const Graph g = discoverLocal();
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::printf("discovery took %.1f ms: %zu nodes, %zu links\n", ms, g.nodes.size(), g.links.size());
  ASSERT_EQ(g.nodesOf(NodeKind::Host).size(), 1u);
  EXPECT_GE(g.nodesOf(NodeKind::Package).size(), 1u);
  EXPECT_GE(g.nodesOf(NodeKind::Numa).size(), 1u);
  EXPECT_EQ(g.nodes[g.nodesOf(NodeKind::Host)[0]].address, hostIdentity());
  EXPECT_NE(hostIdentity().find(':'), std::string::npos);
  int cores = 0;
  for (int p : g.nodesOf(NodeKind::Package)) cores += g.nodes[p].cores;
  EXPECT_GE(cores, 1);
#ifndef PRISM_HAVE_CUDA
  EXPECT_TRUE(g.nodesOf(NodeKind::Gpu).empty());
#endif
  // Every NUMA node hangs off a package; the discovered graph also round-trips.
  EXPECT_EQ(parseFabricJson(toJson(g), "dump"), g);
  const RankInfo self = describeLocalRank(g);
  EXPECT_EQ(self.host, hostIdentity());
  EXPECT_EQ(SystemTopology({self, self}, &g).path(0, 1).linkClass, LinkClass::SameNuma);
}

TEST(TopologyDiscovery, MissingNicSpeedIsZero) {
  EXPECT_EQ(nicSpeed("prism-no-such-interface"), 0);
}

class GoldenFile : public ::testing::TestWithParam<const char*> {};

TEST_P(GoldenFile, LoadsAndRoundTrips) {
  const Graph g = load(GetParam());
  EXPECT_FALSE(g.nodesOf(NodeKind::Host).empty());
  const Graph again = parseFabricJson(toJson(g), "round trip");
  EXPECT_EQ(again, g);
  EXPECT_NE(toText(g).find("link "), std::string::npos);
  EXPECT_EQ(toDot(g).rfind("graph topology {", 0), 0u);
}

INSTANTIATE_TEST_SUITE_P(Files, GoldenFile,
                         ::testing::Values("dgx_h100.json", "rail_fat_tree.json", "torus.json",
                                           "optical.json", "fat_tree_explicit.json",
                                           "dgx_like.xml"));

TEST(TopologyDgx, NvLinkPairsAndRails) {
  const Graph g = load("dgx_h100.json");
  EXPECT_EQ(g.nodesOf(NodeKind::Package).size(), 2u);
  EXPECT_EQ(g.nodesOf(NodeKind::Gpu).size(), 8u);
  EXPECT_EQ(g.nodesOf(NodeKind::Nic).size(), 8u);
  EXPECT_EQ(g.nodesOf(NodeKind::PciSwitch).size(), 8u);
  const SystemTopology s(ranks(8, 8, true), &g);
  EXPECT_EQ(s.nhosts(), 1);
  EXPECT_EQ(s.groups(Level::Host), (std::vector<std::vector<int>>{{0, 1, 2, 3, 4, 5, 6, 7}}));
  EXPECT_EQ(s.groups(Level::NvLink), s.groups(Level::Host));
  EXPECT_EQ(s.groups(Level::Rail).size(), 8u);
  for (int a = 0; a < 8; ++a) {
    for (int b = 0; b < 8; ++b) {
      if (a == b) continue;
      const Path p = s.path(a, b);
      EXPECT_EQ(p.linkClass, LinkClass::NvLink);
      EXPECT_DOUBLE_EQ(p.bandwidth, 450);
      EXPECT_DOUBLE_EQ(p.latency, 1.4);  // GPU -> NVSwitch -> GPU, 0.7 us each
      EXPECT_EQ(countKind(s, p, LinkKind::NvLink), 2);
    }
  }
  // Each GPU's nearest NIC is the one on its PCIe switch.
  for (int r = 0; r < 8; ++r) {
    const Node& rank = s.graph().nodes[s.graph().find("rank" + std::to_string(r))];
    EXPECT_EQ(s.graph().nodes[rank.nic].name, "host0/nic" + std::to_string(r));
  }
}

TEST(TopologyRailFatTree, RailsHostsAndPaths) {
  const Graph g = load("rail_fat_tree.json");
  EXPECT_EQ(g.nodesOf(NodeKind::Switch).size(), 8u + 4u);
  const SystemTopology s(ranks(32, 8, true), &g);
  ASSERT_EQ(s.nhosts(), 4);
  for (int h = 0; h < 4; ++h) {
    EXPECT_EQ(s.ranksOnHost(h).size(), 8u);
    EXPECT_EQ(s.ranksOnHost(h).front(), 8 * h);
  }
  EXPECT_EQ(s.groups(Level::NvLink).size(), 4u);  // one NVSwitch domain per host
  const auto& rails = s.groups(Level::Rail);
  ASSERT_EQ(rails.size(), 8u);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(rails[i], (std::vector<int>{i, i + 8, i + 16, i + 24}));

  // Same rail, different hosts: NIC -> rail leaf -> NIC, no spine.
  const Path sameRail = s.path(0, 8);
  EXPECT_EQ(sameRail.linkClass, LinkClass::Network);
  EXPECT_TRUE(touches(s, sameRail, "rail0"));
  for (int sp = 0; sp < 4; ++sp) EXPECT_FALSE(touches(s, sameRail, "spine" + std::to_string(sp)));
  EXPECT_EQ(countKind(s, sameRail, LinkKind::Network), 2);
  EXPECT_DOUBLE_EQ(sameRail.bandwidth, 50);
  EXPECT_DOUBLE_EQ(sameRail.latency, 4 * 0.5 + 2 * 0.6);  // 4 PCIe hops, 2 network

  // Across rails: up through a spine; uplinks are sized 1:1 (4 x 50 GB/s over 4 spines).
  const Path crossRail = s.path(0, 9);
  EXPECT_TRUE(touches(s, crossRail, "rail0"));
  EXPECT_TRUE(touches(s, crossRail, "rail1"));
  EXPECT_EQ(countKind(s, crossRail, LinkKind::Network), 4);
  EXPECT_DOUBLE_EQ(crossRail.bandwidth, 50);

  const auto agg = s.aggregationPoints();
  ASSERT_EQ(agg.size(), 1u);
  EXPECT_EQ(agg[0].address, "10.0.0.100:18515");
  EXPECT_EQ(s.graph().nodes[agg[0].switchNode].name, "spine0");
  EXPECT_EQ(agg[0].tier, 2);
}

TEST(TopologyRailFatTree, AllPairsOnSixteenHosts) {
  const Graph g = parseFabricJson(R"({"hosts": {"count": 16, "host": {"gpus": 8, "pcie_bw": 64,
      "nvlink": {"bw": 450}, "nics": {"count": 8, "bw": 50, "pair_with_gpus": true}}},
      "fabric": {"type": "rail_optimized", "spines": 4, "oversubscription": 2}})",
                                  "sixteen");
  const SystemTopology s(ranks(128, 8, true), &g);
  std::vector<bool> spine(s.graph().nodes.size(), false);
  for (int sp = 0; sp < 4; ++sp) spine[s.graph().find("spine" + std::to_string(sp))] = true;
  for (int a = 0; a < 128; ++a) {
    for (int b = 0; b < 128; ++b) {
      if (a == b) continue;
      const Path p = s.path(a, b);
      const Path q = s.path(b, a);
      ASSERT_DOUBLE_EQ(p.latency, q.latency);
      ASSERT_DOUBLE_EQ(p.bandwidth, q.bandwidth);
      bool viaSpine = false;
      for (int l : p.links) {
        viaSpine = viaSpine || spine[s.graph().links[l].a] || spine[s.graph().links[l].b];
      }
      const bool sameHost = a / 8 == b / 8, sameRail = a % 8 == b % 8;
      ASSERT_EQ(p.linkClass, sameHost ? LinkClass::NvLink : LinkClass::Network) << a << " " << b;
      ASSERT_EQ(viaSpine, !sameHost && !sameRail) << a << " " << b;
      // 2:1 oversubscribed: a rail leaf's 16 x 50 GB/s down, 4 x 100 GB/s up.
      ASSERT_DOUBLE_EQ(p.bandwidth, sameHost ? 450 : 50);
    }
  }
  int uplinks = 0;
  for (const Link& l : s.graph().links) {
    if (spine[l.a] || spine[l.b]) {
      ++uplinks;
      EXPECT_DOUBLE_EQ(l.bandwidth, 100);
      EXPECT_DOUBLE_EQ(l.oversubscription, 2);
    }
  }
  EXPECT_EQ(uplinks, 8 * 4);
}

TEST(TopologyTorus, HopCounts) {
  const Graph g = load("torus.json");
  const SystemTopology s(ranks(16, 1, false), &g);
  auto hops = [&](int a, int b) { return countKind(s, s.path(a, b), LinkKind::Network); };
  EXPECT_EQ(hops(0, 1), 1);
  EXPECT_EQ(hops(0, 4), 1);
  EXPECT_EQ(hops(0, 3), 1);   // wrap-around in x
  EXPECT_EQ(hops(0, 12), 1);  // wrap-around in y
  EXPECT_EQ(hops(0, 5), 2);
  EXPECT_EQ(hops(0, 10), 4);  // the opposite corner of a 4x4 torus: 2 + 2
  EXPECT_EQ(hops(5, 15), 4);
  EXPECT_EQ(s.path(0, 10).linkClass, LinkClass::Network);
  EXPECT_DOUBLE_EQ(s.path(0, 1).bandwidth, 25);
}

TEST(TopologyOptical, CircuitsAreTheOnlyRoutes) {
  const Graph g = load("optical.json");
  const auto ocs = g.nodesOf(NodeKind::OpticalSwitch);
  ASSERT_EQ(ocs.size(), 1u);
  EXPECT_EQ(g.nodes[ocs[0]].ports, 8);
  EXPECT_DOUBLE_EQ(g.nodes[ocs[0]].reconfigMicros, 20000);
  const SystemTopology s(ranks(4, 1, false), &g);
  const Path p = s.path(0, 1);
  EXPECT_EQ(countKind(s, p, LinkKind::Optical), 1);
  EXPECT_FALSE(touches(s, p, "ocs0"));  // a circuit, not a hop through the switch
  EXPECT_THROW(s.path(0, 2), Error);    // no circuit between a and c
}

TEST(TopologyExplicit, SwitchesLinksAndOversubscription) {
  const Graph g = load("fat_tree_explicit.json");
  const SystemTopology s(ranks(4, 1, false), &g);
  const Path p = s.path(0, 2);
  EXPECT_TRUE(touches(s, p, "spine0"));
  EXPECT_DOUBLE_EQ(p.latency, 2 * 0.5 + 4 * 1);
  EXPECT_DOUBLE_EQ(p.bandwidth, 12.5);
  int oversubscribed = 0;
  for (int l : p.links) oversubscribed += s.graph().links[l].oversubscription == 2;
  EXPECT_EQ(oversubscribed, 2);
  // Paths 0->2 and 1->3 share both uplinks: a cost model sees the contention.
  const Path q = s.path(1, 3);
  std::set<int> shared;
  for (int l : p.links) {
    for (int m : q.links) {
      if (l == m) shared.insert(l);
    }
  }
  EXPECT_EQ(shared.size(), 2u);
  EXPECT_FALSE(touches(s, s.path(0, 1), "spine0"));
}

TEST(TopologyXml, SameGroupsAsEquivalentJson) {
  const Graph xml = load("dgx_like.xml");
  EXPECT_EQ(xml.nodesOf(NodeKind::Package).size(), 2u);
  EXPECT_EQ(xml.nodesOf(NodeKind::Numa).size(), 2u);
  EXPECT_EQ(xml.nodesOf(NodeKind::Gpu).size(), 8u);
  ASSERT_EQ(xml.nodesOf(NodeKind::Nic).size(), 8u);
  EXPECT_DOUBLE_EQ(xml.nodes[xml.nodesOf(NodeKind::Nic)[0]].bandwidth, 50);
  const Graph json = load("dgx_h100.json");
  const SystemTopology a(ranks(8, 8, true), &xml);
  const SystemTopology b(ranks(8, 8, true), &json);
  for (Level level : {Level::Host, Level::NvLink, Level::Rail}) {
    EXPECT_EQ(a.groups(level), b.groups(level));
  }
  const Path p = a.path(0, 5);
  EXPECT_EQ(p.linkClass, LinkClass::NvLink);
  EXPECT_NEAR(p.bandwidth, 18 * 20.6, 1e-9);  // 18 NVLinks of an SM90 GPU
  // GPU i's NIC is NIC i (same PCIe switch), as in the JSON file.
  for (int r = 0; r < 8; ++r) {
    const Node& rank = a.graph().nodes[a.graph().find("rank" + std::to_string(r))];
    EXPECT_EQ(a.graph().nodes[rank.nic].index, r);
  }
}

TEST(TopologyNvLink, MeshAndMultiHostDomain) {
  const Graph mesh = parseFabricJson(
      R"({"hosts": [{"gpus": 4, "nvlink": {"bw": 100, "switch": false, "lat": 1}}]})", "mesh");
  EXPECT_TRUE(mesh.nodesOf(NodeKind::NvSwitch).empty());
  const SystemTopology m(ranks(4, 4, true), &mesh);
  EXPECT_EQ(m.path(0, 3).links.size(), 1u);
  EXPECT_DOUBLE_EQ(m.path(0, 3).bandwidth, 100);
  EXPECT_EQ(m.path(0, 3).linkClass, LinkClass::NvLink);

  // Two hosts in NVLink domain 7 (an NVL-style rack) share one NVSwitch.
  const Graph rack = parseFabricJson(R"({"hosts": {"count": 2, "host": {"gpus": 4,
      "nvlink": {"bw": 900, "domain": 7}, "nics": {"count": 4, "bw": 50, "pair_with_gpus": true}}},
      "fabric": {"type": "rail_optimized"}})",
                                     "rack");
  ASSERT_EQ(rack.nodesOf(NodeKind::NvSwitch).size(), 1u);
  EXPECT_EQ(rack.nodes[rack.nodesOf(NodeKind::NvSwitch)[0]].host, -1);
  const SystemTopology r(ranks(8, 4, true), &rack);
  EXPECT_EQ(r.groups(Level::NvLink), (std::vector<std::vector<int>>{{0, 1, 2, 3, 4, 5, 6, 7}}));
  EXPECT_EQ(r.groups(Level::Host).size(), 2u);
  const Path p = r.path(0, 5);
  EXPECT_EQ(p.linkClass, LinkClass::NvLink);
  EXPECT_DOUBLE_EQ(p.bandwidth, 900);
}

TEST(TopologyXml, ReaderSkipsCommentsAndDecodesEntities) {
  const Graph g = parseNcclXml(R"(<?xml version="1.0"?>
<!-- comment with <tags> -->
<system version='1'>
  <cpu numaid="1" note="a &amp; b &lt;c&gt;">
    <nic><net name="eth0" dev="0" speed="100000"/></nic>
  </cpu>
</system>)",
                               "inline.xml");
  ASSERT_EQ(g.nodesOf(NodeKind::Nic).size(), 1u);
  EXPECT_EQ(g.nodes[g.nodesOf(NodeKind::Nic)[0]].address, "eth0");
  EXPECT_DOUBLE_EQ(g.nodes[g.nodesOf(NodeKind::Nic)[0]].bandwidth, 12.5);
  EXPECT_EQ(g.nodes[g.nodesOf(NodeKind::Numa)[0]].index, 1);
  try {
    parseNcclXml("<system>\n<cpu numaid=\"x\"/>\n</system>", "inline.xml");
    FAIL() << "bad numaid accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("inline.xml:2:"), std::string::npos) << e.what();
  }
}

struct BadFile {
  const char* name;
  const char* where;  // the line ("file:4") or element path the error must name
};

void PrintTo(const BadFile& bad, std::ostream* os) { *os << bad.name; }

class BadFiles : public ::testing::TestWithParam<BadFile> {};

TEST_P(BadFiles, ErrorNamesFileAndPlace) {
  const BadFile bad = GetParam();
  try {
    load(std::string("bad/") + bad.name);
    FAIL() << bad.name << " loaded without an error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(e.code(), ncclInvalidArgument);
    EXPECT_NE(what.find(bad.name), std::string::npos) << what;
    EXPECT_NE(what.find(bad.where), std::string::npos) << what;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Files, BadFiles,
    ::testing::Values(BadFile{"syntax.json", "syntax.json:4:"},
                      BadFile{"unknown_ref.json", "links[1].b: unknown node 'leaf9'"},
                      BadFile{"rail.json", "hosts[1].nics[1].rail"},
                      BadFile{"torus_size.json", "fabric.dims"},
                      BadFile{"nic_gpu.json", "hosts[0].nics[1].gpu"},
                      BadFile{"optical_circuit.json", "optical_switches[0].circuits[0][1]"},
                      BadFile{"aggregation_address.json", "aggregation[0].address"},
                      BadFile{"unknown_key.json", "hosts.host.gpu: unknown key"},
                      BadFile{"link_bandwidth.json", "links[0].bw"},
                      BadFile{"unclosed.xml", "unclosed.xml:5:"},
                      BadFile{"nvlink_target.xml", "nvlink_target.xml:5:"},
                      // Found by tests/fuzz: a number beyond a double's range.
                      BadFile{"number_overflow.json", "number overflow"}),
    [](const ::testing::TestParamInfo<BadFile>& info) {
      std::string name = info.param.name;
      for (char& c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      return name;
    });

TEST(TopologyFile, MissingFileIsAnError) { EXPECT_THROW(load("no_such_file.json"), Error); }

TEST(TopologyFile, FormatFromFirstCharacter) {
  const auto dir = std::filesystem::temp_directory_path();
  const std::string path = (dir / ("prism_topo_" + std::to_string(getpid()))).string();
  std::filesystem::copy_file(kDir / "dgx_like.xml", path,
                             std::filesystem::copy_options::overwrite_existing);
  EXPECT_EQ(loadFabricFile(path), load("dgx_like.xml"));
  std::ofstream(path) << toJson(load("torus.json"));
  EXPECT_EQ(loadFabricFile(path), load("torus.json"));
  std::filesystem::remove(path);
}

TEST(TopologyFile, ConfiguredFileAndDump) {
  const std::string dump = (std::filesystem::temp_directory_path() /
                            ("prism_dump_" + std::to_string(getpid()) + ".json"))
                               .string();
  ::setenv("PRISM_TOPO_FILE", (kDir / "rail_fat_tree.json").c_str(), 1);
  ::setenv("PRISM_TOPO_DUMP_FILE", dump.c_str(), 1);
  const auto g = loadConfiguredFabric();
  ASSERT_TRUE(g.has_value());
  const SystemTopology s(ranks(32, 8, true), &*g);
  dumpIfRequested(s.graph());
  ::unsetenv("PRISM_TOPO_FILE");
  ::unsetenv("PRISM_TOPO_DUMP_FILE");
  EXPECT_FALSE(loadConfiguredFabric().has_value());
  // The dump (with its Rank nodes) loads back to the same graph.
  const Graph loaded = loadFabricFile(dump);
  EXPECT_EQ(loaded, s.graph());
  // ... and serves as a fabric file again: its Rank nodes are replaced by the new ranks.
  const SystemTopology again(ranks(32, 8, true), &loaded);
  EXPECT_EQ(again.graph(), s.graph());
  EXPECT_EQ(again.groups(Level::Rail), s.groups(Level::Rail));
  std::filesystem::remove(dump);
}

/// What NCCL's XML keeps of a host: devices, bus ids, NIC speeds, PCIe nesting, NVLinks.
struct HostSummary {
  std::multiset<std::string> gpus, nics, switches;
  size_t nvlinks = 0;
  double nvlinkBandwidth = 0;
  size_t pcieLinks = 0;
};

HostSummary summarize(const Graph& g) {
  HostSummary s;
  for (const Node& n : g.nodes) {
    if (n.kind == NodeKind::Gpu) s.gpus.insert(n.address);
    if (n.kind == NodeKind::Nic) s.nics.insert(n.address + "@" + std::to_string(n.bandwidth));
    if (n.kind == NodeKind::PciSwitch) s.switches.insert(n.address);
  }
  for (const Link& l : g.links) {
    if (l.kind == LinkKind::NvLink) {
      ++s.nvlinks;
      s.nvlinkBandwidth += l.bandwidth;
    }
    if (l.kind == LinkKind::Pcie) ++s.pcieLinks;
  }
  return s;
}

/// NCCL_TOPO_DUMP_FILE writes NCCL's XML, which NCCL_TOPO_FILE reads back to the same host.
TEST(TopologyFile, NcclXmlDumpReadsBack) {
  const Graph original = load("dgx_like.xml");
  const std::string xml = toNcclXml(original, original.nodesOf(NodeKind::Host)[0]);
  const Graph back = parseNcclXml(xml, "dump");
  const HostSummary a = summarize(original), b = summarize(back);
  EXPECT_EQ(a.gpus, b.gpus);
  EXPECT_EQ(a.nics, b.nics);
  EXPECT_EQ(a.switches, b.switches);
  EXPECT_EQ(a.pcieLinks, b.pcieLinks);
  EXPECT_EQ(a.nvlinks, b.nvlinks);
  EXPECT_NEAR(a.nvlinkBandwidth, b.nvlinkBandwidth, a.nvlinkBandwidth * 0.05);
  EXPECT_EQ(back.nodesOf(NodeKind::Numa).size(), original.nodesOf(NodeKind::Numa).size());

  // Through the setting: NCCL's name means NCCL's format.
  const std::string dump = (std::filesystem::temp_directory_path() /
                            ("prism_dump_" + std::to_string(getpid()) + ".topo"))
                               .string();
  ::setenv("NCCL_TOPO_DUMP_FILE", dump.c_str(), 1);
  dumpIfRequested(original);
  ::unsetenv("NCCL_TOPO_DUMP_FILE");
  std::ifstream in(dump);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::filesystem::remove(dump);
  EXPECT_EQ(text.rfind("<?xml", 0), 0u) << text.substr(0, 200);
  EXPECT_EQ(summarize(parseNcclXml(text, dump)).gpus, a.gpus);
}

TEST(TopologySystem, SynthesizedWithoutFabric) {
  std::vector<RankInfo> infos(4);
  infos[0] = {"a", 0, -1, -1, 0};
  infos[1] = {"b", 0, -1, -1, 25};
  infos[2] = {"a", 0, -1, -1, 0};
  infos[3] = {"a", 1, -1, -1, 0};
  const SystemTopology s(infos);
  EXPECT_EQ(s.hostOf(), (std::vector<int>{0, 1, 0, 0}));
  EXPECT_EQ(s.ranksOnHost(0), (std::vector<int>{0, 2, 3}));
  EXPECT_EQ(s.path(0, 2).linkClass, LinkClass::SameNuma);
  EXPECT_EQ(s.path(0, 2).links.size(), 1u);  // the shared memory port
  EXPECT_EQ(s.path(0, 3).linkClass, LinkClass::SameHost);
  const Path net = s.path(0, 1);
  EXPECT_EQ(net.linkClass, LinkClass::Network);
  EXPECT_DOUBLE_EQ(net.bandwidth, 12.5);  // host a's NIC speed is unknown: the default
  EXPECT_EQ(s.path(1, 0).links.size(), net.links.size());
  EXPECT_EQ(s.groups(Level::Host), (std::vector<std::vector<int>>{{0, 2, 3}, {1}}));
  EXPECT_EQ(s.groups(Level::NvLink).size(), 4u);
}

TEST(TopologySystem, TooFewHostsInFabric) {
  const Graph g = load("dgx_h100.json");
  EXPECT_THROW(SystemTopology(ranks(16, 8, true), &g), Error);
}

TEST(TopologySystem, RankInfoRoundTrip) {
  const RankInfo info{"node17:0b5e9d2c-1111-2222-3333-444455556666", 1, 3, 5, 50.5};
  const auto bytes = encodeRank(info);
  EXPECT_EQ(decodeRank(bytes.data(), bytes.size()), info);
  const RankInfo empty;
  const auto e = encodeRank(empty);
  EXPECT_EQ(decodeRank(e.data(), e.size()), empty);
  auto corrupt = bytes;
  corrupt[0] = std::byte{0};
  EXPECT_THROW(decodeRank(corrupt.data(), corrupt.size()), Error);
  EXPECT_THROW(decodeRank(bytes.data(), bytes.size() - 1), Error);
  EXPECT_THROW(encodeRank(RankInfo{std::string(300, 'x')}), Error);
}

}  // namespace
}  // namespace prism::topo

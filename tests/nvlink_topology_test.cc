// NVLink in the topology graph: what NVML reports per GPU (active links grouped by the
// device at the far end) becomes GPU-GPU links and links to one NVSwitch node per host,
// with links x per-link bandwidth. The NVML query itself needs a GPU (exercised on the lent
// machine through discovery); here its results are given.
#include <gtest/gtest.h>

#include "topology/nvlink.h"

namespace prism::topo {
namespace {

Graph hostWithGpus(int count) {
  Graph g;
  const int host = g.addNode(makeNode(NodeKind::Host, "host0"));
  const int numa = g.addNode(makeNode(NodeKind::Numa, "host0/numa0", host));
  for (int d = 0; d < count; ++d) {
    Node gpu = makeNode(NodeKind::Gpu, "host0/gpu" + std::to_string(d), host);
    gpu.index = d;
    gpu.address = "0000:1" + std::to_string(d) + ":00.0";
    g.addLink(g.addNode(std::move(gpu)), numa, LinkKind::Pcie, 32, 1);
  }
  return g;
}

std::vector<const Link*> nvLinks(const Graph& g) {
  std::vector<const Link*> out;
  for (const Link& l : g.links)
    if (l.kind == LinkKind::NvLink) out.push_back(&l);
  return out;
}

TEST(NvLink, BandwidthPerLinkByNvmlVersion) {
  EXPECT_EQ(nvLinkGbPerLink(1), 20);
  EXPECT_EQ(nvLinkGbPerLink(4), 25);  // NVLink 3.0 (A100)
  EXPECT_EQ(nvLinkGbPerLink(6), 25);  // NVLink 4.0 (H100)
  EXPECT_EQ(nvLinkGbPerLink(7), 50);  // NVLink 5.0
  EXPECT_EQ(nvLinkGbPerLink(0), 0);
  EXPECT_EQ(nvLinkGbPerLink(42), 0);
}

TEST(NvLink, DirectPairsBecomeOneLinkEach) {
  Graph g = hostWithGpus(3);
  // GPU 0 and 1 share 4 links, GPU 1 and 2 share 2; both ends report them.
  std::map<std::string, std::vector<NvLinkPeer>> peers{
      {"0000:10:00.0", {{"0000:11:00.0", true, 4, 25}}},
      {"0000:11:00.0", {{"0000:10:00.0", true, 4, 25}, {"0000:12:00.0", true, 2, 25}}},
      {"0000:12:00.0", {{"0000:11:00.0", true, 2, 25}}}};
  addNvLinks(g, 0, peers);
  const auto links = nvLinks(g);
  ASSERT_EQ(links.size(), 2u);
  EXPECT_EQ(g.nodes[links[0]->a].name, "host0/gpu0");
  EXPECT_EQ(g.nodes[links[0]->b].name, "host0/gpu1");
  EXPECT_EQ(links[0]->bandwidth, 100);
  EXPECT_EQ(g.nodes[links[1]->a].name, "host0/gpu1");
  EXPECT_EQ(g.nodes[links[1]->b].name, "host0/gpu2");
  EXPECT_EQ(links[1]->bandwidth, 50);
  EXPECT_TRUE(g.nodesOf(NodeKind::NvSwitch).empty());
}

TEST(NvLink, SwitchedLinksMeetAtOneNvSwitch) {
  Graph g = hostWithGpus(2);
  // H100 SXM: 18 links per GPU spread over 4 NVSwitches (5+4+4+5).
  std::map<std::string, std::vector<NvLinkPeer>> peers;
  for (const char* gpu : {"0000:10:00.0", "0000:11:00.0"}) {
    peers[gpu] = {{"0000:80:00.0", false, 5, 25},
                  {"0000:81:00.0", false, 4, 25},
                  {"0000:82:00.0", false, 4, 25},
                  {"0000:83:00.0", false, 5, 25}};
  }
  addNvLinks(g, 0, peers);
  const std::vector<int> switches = g.nodesOf(NodeKind::NvSwitch);
  ASSERT_EQ(switches.size(), 1u);
  EXPECT_EQ(g.nodes[switches[0]].name, "host0/nvswitch");
  const auto links = nvLinks(g);
  ASSERT_EQ(links.size(), 2u);
  for (const Link* l : links) {
    EXPECT_EQ(l->b, switches[0]);
    EXPECT_EQ(l->bandwidth, 450);  // 18 x 25 GB/s per direction
  }
}

TEST(NvLink, UnknownGpusAndNoPeersAddNothing) {
  Graph g = hostWithGpus(1);
  const size_t before = g.links.size();
  addNvLinks(g, 0, {});
  addNvLinks(g, 0, {{"0000:99:00.0", {{"0000:10:00.0", true, 2, 25}}}});
  EXPECT_EQ(g.links.size(), before);
}

}  // namespace
}  // namespace prism::topo

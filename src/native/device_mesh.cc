// DeviceMesh: one split of the world per parallel dimension, in Megatron's rank order.
#include <string>

#include "prism/comm.hpp"

namespace prism {

namespace {

void checkShape(const MeshShape& s, int worldSize) {
  for (auto [name, degree] : {std::pair{"dp", s.dp}, std::pair{"tp", s.tp}, std::pair{"pp", s.pp},
                              std::pair{"cp", s.cp}, std::pair{"ep", s.ep}}) {
    if (degree < 1)
      throw CommError(ncclInvalidArgument,
                      std::string("mesh ") + name + " = " + std::to_string(degree) + " is below 1");
  }
  long product = long{s.dp} * s.tp * s.pp * s.cp;
  if (product != worldSize)
    throw CommError(ncclInvalidArgument, "mesh dp*tp*pp*cp = " + std::to_string(product) +
                                             " does not equal world size " +
                                             std::to_string(worldSize));
  if (s.dp % s.ep != 0)
    throw CommError(ncclInvalidArgument, "mesh ep = " + std::to_string(s.ep) +
                                             " does not divide dp = " + std::to_string(s.dp));
}

}  // namespace

DeviceMesh::DeviceMesh(Comm& world, MeshShape shape) : shape_(shape) {
  checkShape(shape, world.size());
  const int r = world.rank();
  const int t = r % shape.tp;
  const int c = (r / shape.tp) % shape.cp;
  const int d = (r / (shape.tp * shape.cp)) % shape.dp;
  const int p = r / (shape.tp * shape.cp * shape.dp);
  tpRank_ = t;
  cpRank_ = c;
  dpRank_ = d;
  ppRank_ = p;
  epRank_ = d % shape.ep;
  // Each color names the group: the coordinates of every other dimension. Every rank
  // performs the same splits in the same order.
  tp_ = world.split((p * shape.dp + d) * shape.cp + c, t);
  cp_ = world.split((p * shape.dp + d) * shape.tp + t, c);
  const int dpColor = (p * shape.cp + c) * shape.tp + t;
  dp_ = world.split(dpColor, d);
  pp_ = world.split((d * shape.cp + c) * shape.tp + t, p);
  ep_ = world.split(dpColor * (shape.dp / shape.ep) + d / shape.ep, epRank_);
}

}  // namespace prism

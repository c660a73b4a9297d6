#include "train/parallel/options.h"

#include <array>
#include <utility>

#include "base/error.h"

namespace prism::train {
namespace {

constexpr std::array<std::pair<Mode, const char*>, 11> kModes{{{Mode::Single, "single"},
                                                               {Mode::Dp, "dp"},
                                                               {Mode::Zero1, "zero1"},
                                                               {Mode::Zero2, "zero2"},
                                                               {Mode::Zero3, "zero3"},
                                                               {Mode::Tp, "tp"},
                                                               {Mode::Sp, "sp"},
                                                               {Mode::Pp, "pp"},
                                                               {Mode::Cp, "cp"},
                                                               {Mode::Ep, "ep"},
                                                               {Mode::Hybrid, "hybrid"}}};

void need(bool ok, const std::string& reason) {
  if (!ok) throw Error(ncclInvalidArgument, reason);
}

int parseInt(const std::string& flag, const std::string& value) {
  size_t used = 0;
  int v = 0;
  try {
    v = std::stoi(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  need(used == value.size() && !value.empty(), flag + " needs an integer, got '" + value + "'");
  return v;
}

// The modes whose communication (the bucketer, ZeRO-3's prefetcher) can use device buffers.
bool deviceBuffersFit(const Options& o) {
  const MeshShape& m = o.mesh;
  return (o.mode == Mode::Dp || o.mode == Mode::Zero3) && m.tp == 1 && m.pp == 1 && m.cp == 1 &&
         m.ep == 1;
}

}  // namespace

Mode parseMode(const std::string& name) {
  for (const auto& [mode, n] : kModes)
    if (name == n) return mode;
  throw Error(ncclInvalidArgument, "unknown --mode '" + name + "'");
}

const char* modeName(Mode mode) {
  for (const auto& [m, n] : kModes)
    if (m == mode) return n;
  return "?";
}

std::string usage() {
  return "usage: prism-train [--mode single|dp|zero1|zero2|zero3|tp|sp|pp|cp|ep|hybrid]\n"
         "  [--dp N] [--tp N] [--pp N] [--cp N] [--ep N] [--sp]\n"
         "  [--schedule gpipe|1f1b] [--microbatches M] [--steps S] [--batch B]\n"
         "  [--layers L] [--hidden H] [--heads A] [--vocab V] [--seq T] [--experts E]\n"
         "  [--lr X] [--threads N] [--quiet] [--serialize]\n"
         "  [--bucket-kb K] [--prefetch D] [--device cpu|cuda]\n"
         "  [--exit-rank R --exit-at-step S]\n"
         "Ranks come from the launcher (prism-run -np N -- prism-train ...) or, with\n"
         "--threads N, are threads of this process. A run whose degrees multiply to 1 needs\n"
         "no launcher. --serialize waits for every communication right after its launch\n"
         "(the baseline against which overlap is measured). --bucket-kb caps dp's gradient\n"
         "buckets (default 256); --prefetch is how many ZeRO-3 groups are gathered ahead\n"
         "(default 1). --device cuda runs the model's matrix products on the GPU (any\n"
         "mode; the results are bitwise those of the CPU) and, in modes dp and zero3, also\n"
         "keeps the communication buffers in GPU memory.\n"
         "--exit-rank/--exit-at-step make one rank process exit (status 3)\n"
         "as that step begins, to check that the others fail instead of hanging.\n";
}

void applyMode(Options& o) {
  if (o.mode == Mode::Zero1) o.zeroStage = 1;
  if (o.mode == Mode::Zero2) o.zeroStage = 2;
  if (o.mode == Mode::Zero3) o.zeroStage = 3;
  if (o.mode == Mode::Sp) o.sequenceParallel = true;
  if (o.mode == Mode::Ep) {
    o.model.moe = true;
    if (o.mesh.dp == 1) o.mesh.dp = o.mesh.ep;
  }
  if (o.mesh.ep > 1) o.model.moe = true;
  if (o.deviceCompute && deviceBuffersFit(o)) o.memory = overlap::Memory::Device;
}

Options parseOptions(const std::vector<std::string>& args) {
  Options o;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& flag = args[i];
    auto value = [&]() -> const std::string& {
      need(i + 1 < args.size(), flag + " needs a value");
      return args[++i];
    };
    if (flag == "--mode")
      o.mode = parseMode(value());
    else if (flag == "--dp")
      o.mesh.dp = parseInt(flag, value());
    else if (flag == "--tp")
      o.mesh.tp = parseInt(flag, value());
    else if (flag == "--pp")
      o.mesh.pp = parseInt(flag, value());
    else if (flag == "--cp")
      o.mesh.cp = parseInt(flag, value());
    else if (flag == "--ep")
      o.mesh.ep = parseInt(flag, value());
    else if (flag == "--sp")
      o.sequenceParallel = true;
    else if (flag == "--microbatches")
      o.microbatches = parseInt(flag, value());
    else if (flag == "--steps")
      o.train.steps = parseInt(flag, value());
    else if (flag == "--batch")
      o.train.batch = parseInt(flag, value());
    else if (flag == "--layers")
      o.model.layers = parseInt(flag, value());
    else if (flag == "--hidden")
      o.model.hidden = parseInt(flag, value());
    else if (flag == "--heads")
      o.model.heads = parseInt(flag, value());
    else if (flag == "--vocab")
      o.model.vocab = parseInt(flag, value());
    else if (flag == "--seq")
      o.model.seq = parseInt(flag, value());
    else if (flag == "--experts")
      o.model.experts = parseInt(flag, value());
    else if (flag == "--threads")
      o.threads = parseInt(flag, value());
    else if (flag == "--quiet")
      o.quiet = true;
    else if (flag == "--serialize")
      o.serialize = true;
    else if (flag == "--bucket-kb")
      o.bucketKb = parseInt(flag, value());
    else if (flag == "--prefetch")
      o.prefetch = parseInt(flag, value());
    else if (flag == "--device") {
      const std::string& d = value();
      need(d == "cpu" || d == "cuda", "--device must be cpu or cuda, got '" + d + "'");
      o.deviceCompute = d == "cuda";
    } else if (flag == "--exit-rank")
      o.exitRank = parseInt(flag, value());
    else if (flag == "--exit-at-step")
      o.exitAtStep = parseInt(flag, value());
    else if (flag == "--lr")
      o.train.lr = std::stof(value());
    else if (flag == "--schedule") {
      const std::string& s = value();
      need(s == "gpipe" || s == "1f1b", "--schedule must be gpipe or 1f1b, got '" + s + "'");
      o.schedule = s == "gpipe" ? PipeSchedule::GPipe : PipeSchedule::OneFOneB;
    } else {
      throw Error(ncclInvalidArgument, "unknown flag '" + flag + "'\n" + usage());
    }
  }
  applyMode(o);
  return o;
}

void validateOptions(const Options& o, int worldSize) {
  const MeshShape& m = o.mesh;
  const ModelConfig& c = o.model;
  const auto s = [](int v) { return std::to_string(v); };
  need(o.bucketKb >= 4, "--bucket-kb must be at least 4, got " + s(o.bucketKb));
  need(o.prefetch >= 1, "--prefetch must be at least 1, got " + s(o.prefetch));
  // Set only by applyMode from the command line; a program may set it by hand.
  need(o.memory == overlap::Memory::Host || deviceBuffersFit(o),
       std::string("communication buffers in device memory need --mode dp or zero3 without ") +
           "tp, pp, cp or ep, got --mode " + modeName(o.mode));
  need(m.dp >= 1 && m.tp >= 1 && m.pp >= 1 && m.cp >= 1 && m.ep >= 1,
       "mesh degrees must be positive");
  need(o.worldSize() == worldSize, "dp*tp*pp*cp (" + s(o.worldSize()) +
                                       ") must equal the number of ranks (" + s(worldSize) + ")");
  need(c.heads % m.tp == 0, "heads (" + s(c.heads) + ") must be divisible by tp (" + s(m.tp) + ")");
  need(c.ffn() % m.tp == 0,
       "MLP width (" + s(c.ffn()) + ") must be divisible by tp (" + s(m.tp) + ")");
  need(c.seq % (2 * m.cp) == 0,
       "seq (" + s(c.seq) + ") must be divisible by 2*cp (" + s(2 * m.cp) + ")");
  need(c.layers % m.pp == 0,
       "layers (" + s(c.layers) + ") must be divisible by pp (" + s(m.pp) + ")");
  need(o.train.batch % m.dp == 0,
       "batch (" + s(o.train.batch) + ") must be divisible by dp (" + s(m.dp) + ")");
  need(o.microbatches >= 1 && (o.train.batch / m.dp) % o.microbatches == 0,
       "batch/dp (" + s(o.train.batch / m.dp) + ") must be divisible by microbatches (" +
           s(o.microbatches) + ")");
  if (m.ep > 1 || c.moe) {
    need(c.experts % m.ep == 0,
         "experts (" + s(c.experts) + ") must be divisible by ep (" + s(m.ep) + ")");
    need(m.dp == m.ep, "expert parallelism needs dp == ep (dp " + s(m.dp) + ", ep " + s(m.ep) +
                           "): experts are not replicated");
    need(m.tp == 1, "mixture of experts runs without tensor parallelism (tp " + s(m.tp) + ")");
    need(o.zeroStage == 0, "ZeRO does not shard expert parameters; use dp or ep");
  }
  if (o.sequenceParallel) {
    const int rows = o.train.batch / m.dp / o.microbatches * (c.seq / m.cp);
    need(rows % m.tp == 0, "tokens per micro-batch (" + s(rows) + ") must be divisible by tp (" +
                               s(m.tp) + ") for sequence parallelism");
  }
}

}  // namespace prism::train

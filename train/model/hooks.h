/// The seams where parallelism enters the model. A layer calls these at fixed points; the
/// single-rank defaults here do nothing (identity copies, local attention, local experts),
/// and train/parallel overrides them with communication. Keeping one layer code path for
/// every mode is what makes loss parity between modes meaningful.
#pragma once

#include <vector>

#include "train/model/attention_core.h"
#include "train/model/tensor.h"

namespace prism::train {

/// Where each routed row goes and which local expert runs it there.
struct ExpertPlan {
  std::vector<int> localExpert;  ///< per row at the experts: index into this rank's experts
  std::vector<int> order;        ///< rows sorted by destination (expert parallel only)
  std::vector<int> sendCounts;   ///< rows sent to each peer
  std::vector<int> recvCounts;   ///< rows received from each peer
  int capacity = 0;              ///< rows per peer slot in the all-to-all buffers
};

class Hooks {
 public:
  /// `positions[i]`: global position of this rank's i-th token of a sequence.
  explicit Hooks(std::vector<int> positions) : positions_(std::move(positions)) {}
  virtual ~Hooks() = default;

  const std::vector<int>& positions() const { return positions_; }

  /// Tensor-parallel region boundaries (Megatron's f and g). Rows are tokens of `width`
  /// floats. Enter: this rank's rows -> all rows the region computes on. Exit: a partial
  /// sum over tp ranks -> this rank's rows of the total.
  virtual void enterForward(const Vec& x, Vec& full, int width) { full = x; }
  virtual void enterBackward(const Vec& dfull, Vec& dx, int width) { dx = dfull; }
  virtual void exitForward(const Vec& partial, Vec& y, int width) { y = partial; }
  virtual void exitBackward(const Vec& dy, Vec& dpartial, int width) { dpartial = dy; }

  /// Causal attention of this rank's queries over the whole sequence.
  virtual void attentionForward(const AttnShape& s, const Vec& q, const Vec& k, const Vec& v,
                                Vec& out, Vec& lse);
  virtual void attentionBackward(const AttnShape& s, const Vec& q, const Vec& k, const Vec& v,
                                 const Vec& out, const Vec& lse, const Vec& dout, Vec& dq, Vec& dk,
                                 Vec& dv);

  /// Mixture-of-experts routing: `expert[r]` is the global expert of row r.
  virtual ExpertPlan planExperts(const std::vector<int>& expert, int experts);
  /// Moves rows (width floats each) from their source to their expert's rank.
  virtual void toExperts(const ExpertPlan& plan, const Vec& rows, Vec& atExperts, int width) {
    atExperts = rows;
  }
  /// The reverse move.
  virtual void fromExperts(const ExpertPlan& plan, const Vec& atExperts, Vec& rows, int width) {
    rows = atExperts;
  }

  /// Parameter-group lifecycle: group 0 is the embedding, 1 + i block i, layers + 1 the
  /// head. ZeRO-3 gathers parameters here; data parallelism launches gradient reductions.
  virtual void beforeGroup(int group, bool backward) {}
  virtual void afterGroup(int group, bool backward) {}

 private:
  std::vector<int> positions_;
};

}  // namespace prism::train

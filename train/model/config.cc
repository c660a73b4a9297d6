#include "train/model/config.h"

#include <stdexcept>

namespace prism::train {

void validate(const ModelConfig& c) {
  auto need = [](bool ok, const std::string& what) {
    if (!ok) throw std::invalid_argument("model config: " + what);
  };
  need(c.layers > 0 && c.hidden > 0 && c.heads > 0 && c.vocab > 0 && c.seq > 0,
       "layers, hidden, heads, vocab and seq must be positive");
  need(c.hidden % c.heads == 0, "hidden (" + std::to_string(c.hidden) +
                                    ") must be divisible by heads (" + std::to_string(c.heads) +
                                    ")");
  need(!c.moe || (c.topK >= 1 && c.topK <= c.experts), "topK must be in [1, experts]");
}

}  // namespace prism::train

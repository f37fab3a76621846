#include "quant/clip_search.h"

#include "quant/quantize.h"

namespace qtune {

double search_clip_ratio(const at::Tensor& w, const QuantSpec& spec) {
  // INC: n_grid = 200, max_shrink = 0.2 -> ratios 1 - i/200 for i in [0, 40).
  constexpr int kGrid = 200, kSteps = 40;
  const at::Tensor wf = w.detach().to(at::kFloat);
  QuantSpec s = spec;
  double best_ratio = 1.0, best_loss = std::numeric_limits<double>::infinity();
  for (int i = 0; i < kSteps; ++i) {
    s.clip_ratio = 1.0 - static_cast<double>(i) / kGrid;
    const double loss = (wf - fake_quantize(wf, s)).pow(2).mean().item<double>();
    if (loss < best_loss) best_loss = loss, best_ratio = s.clip_ratio;
  }
  return best_ratio;
}

}  // namespace qtune

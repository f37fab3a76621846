// A chain of residual MLP blocks for the calibration-based weight-only tests
// (AWQ, TEQ, AutoRound): h <- h + down(relu(up(h))), with inputs whose few
// outlier channels are ~15x the others, as real activations have.
#pragma once

#include <ATen/ATen.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "models/model.h"
#include "quantizers/quantizer.h"

namespace qtune::testing {

class OutlierMlp : public Model {
 public:
  static constexpr int64_t kWidth = 32, kHidden = 48;

  explicit OutlierMlp(uint64_t seed = 1, int64_t blocks = 1) {
    at::manual_seed(seed);
    for (int64_t b = 0; b < blocks; ++b) {
      const std::string p = "b" + std::to_string(b) + ".";
      slots_.emplace_back(p + "up", LayerKind::kLinear, at::randn({kHidden, kWidth}) * 0.2,
                          at::randn({kHidden}) * 0.1);
      slots_.emplace_back(p + "down", LayerKind::kLinear, at::randn({kWidth, kHidden}) * 0.2,
                          std::nullopt);
    }
  }

  std::string spec() const override { return "test:outlier-mlp"; }
  at::Tensor forward(const at::Tensor& x) const override {
    at::Tensor h = x;
    for (int64_t b = 0; b < num_blocks(); ++b) h = run_block(b, h);
    return h;
  }
  std::vector<LayerSlot*> layers() override {
    std::vector<LayerSlot*> out;
    for (LayerSlot& s : slots_) out.push_back(&s);
    return out;
  }
  std::unique_ptr<Model> clone() const override {
    auto m = std::make_unique<OutlierMlp>(*this);
    for (LayerSlot& s : m->slots_) s.clear_capture();
    return m;
  }

  int64_t num_blocks() const override { return static_cast<int64_t>(slots_.size()) / 2; }
  std::vector<LayerSlot*> block_layers(int64_t b) override {
    return {&slots_[2 * b], &slots_[2 * b + 1]};
  }
  at::Tensor run_block(int64_t b, const at::Tensor& h) const override {
    return h + slots_[2 * b + 1](at::relu(slots_[2 * b](h)));
  }
  // up reads the residual stream, which nothing can scale without changing the
  // skip path: it gets an inserted multiplier. ReLU commutes with positive
  // scales, so up absorbs down's.
  std::vector<InputScaleGroup> input_scale_groups(int64_t b) override {
    return {{"", {slots_[2 * b].name()}}, {slots_[2 * b].name(), {slots_[2 * b + 1].name()}}};
  }

  /// [n, kWidth] normal inputs with channels 2, 11 and 25 scaled by 15.
  static at::Tensor inputs(uint64_t seed, int64_t n) {
    at::manual_seed(seed);
    at::Tensor x = at::randn({n, kWidth});
    for (int64_t c : {2, 11, 25}) x.select(1, c).mul_(15.0);
    return x;
  }

 private:
  std::vector<LayerSlot> slots_;
};

/// `x` cut into calibration batches of `batch` rows.
inline CalibrationData calibration_of(const at::Tensor& x, int64_t batch) {
  CalibrationData c;
  for (const at::Tensor& b : x.split(batch)) c.batches.push_back(b.contiguous());
  return c;
}

inline QuantConfig quant_config(const std::string& algorithm, Json params) {
  QuantConfig c;
  c.algorithm = algorithm;
  c.params = std::move(params);
  return c;
}

/// Mean squared difference of two models' outputs on `x` (fails on an empty output).
inline double output_mse(const Model& a, const Model& b, const at::Tensor& x) {
  at::NoGradGuard no_grad;
  const at::Tensor d = a.forward(x) - b.forward(x);
  if (d.numel() == 0) throw std::runtime_error("output_mse over zero elements");
  return d.pow(2).mean().item<double>();
}

/// A quantized copy of `model` (which stays fp32).
inline ModelPtr quantized_copy(const Model& model, const QuantConfig& c,
                               const CalibrationData& calib) {
  ModelPtr m = model.clone();
  quantize(*m, c, calib);
  return m;
}

}  // namespace qtune::testing

// Private to quantizers/: what the calibration-based weight-only algorithms
// (AWQ, TEQ, AutoRound) share — running a layer on a candidate weight, the
// block-wise loop with fp32 targets, batches of block samples, and a kernel
// that computes with trainable tensors so autograd reaches them through the
// model's own block forward.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "quant/quant_spec.h"
#include "quantizers/blockwise.h"
#include "quantizers/quantizer.h"

namespace qtune {

/// The layer's function on `weight` instead of its own (its geometry kept; its
/// own bias unless `bias` is given).
at::Tensor run_layer_with(const LayerSlot& slot, const at::Tensor& x, const at::Tensor& weight,
                          const std::optional<at::Tensor>& bias = std::nullopt);

/// round(x) forward, identity backward (straight-through estimator).
at::Tensor round_ste(const at::Tensor& x);

/// Fake quantization (RTN's values, bit for bit) that autograd can go through:
/// only the rounding is straight-through, so the gradient also sees how a
/// weight moves its group's scale and zero point. (INC's TEQ passes the
/// gradient straight through the whole fake quantization instead; on
/// fmnist-cnn-tiny that trained TEQ's scales to 0.9-6x RTN's block loss at
/// W3/W4, g16/g32, where this one reached 0.45-1.3x.)
at::Tensor fake_quantize_ste(const at::Tensor& w, const QuantSpec& spec);

/// A kernel whose forward is any differentiable function (training only; never saved).
LayerKernelPtr make_function_kernel(std::function<at::Tensor(const at::Tensor&)> forward);

/// Gives every layer its fp32 kernel on its current weight, so an algorithm
/// starts from fp32 even if the model carries a previous quantization.
void reset_to_fp32(Model& model);
/// The same for some layers (a block's, after training kernels ran on them).
void reset_to_fp32(const std::vector<LayerSlot*>& layers);

/// Effective params of every layer ([name] -> params, absent = kept fp32) and
/// a report per layer, pre-filled for the fp32 ones.
struct LayerPlan {
  std::map<std::string, Json> params;
  std::map<std::string, LayerReport> reports;
  bool quantized(const std::string& name) const { return params.count(name) > 0; }
  /// Reports in the model's layer order.
  std::vector<LayerReport> ordered(const Model& model) const;
};
LayerPlan plan_layers(Model& model, const QuantConfig& config);

/// Quantizes `slot` with `spec` from its current weight, installs it and fills
/// its report (params included).
void quantize_layer(LayerSlot& slot, const QuantSpec& spec, const Json& params,
                    const std::string& backend, LayerReport* report);

/// RTN for the planned layers no block contains (a language model's lm_head
/// when a config asks for it), so every algorithm quantizes what it was told to.
void quantize_unvisited(Model& model, LayerPlan& plan, const std::string& backend);

/// Block-wise visit with fp32 references. `inputs` are what block i receives in
/// the model being quantized (the quantized output of earlier blocks, or the fp32
/// chain's when `quantized_inputs` is false); `targets` are the fp32 model's block
/// outputs on the fp32 chain's inputs — what the quantized block should reproduce.
void for_each_block_with_targets(Model& model, const CalibrationData& calibration,
                                 bool quantized_inputs,
                                 const std::function<void(int64_t block, const BlockInputs& inputs,
                                                          const BlockInputs& targets)>& visit);

/// Block inputs and fp32 targets as one sample set along dim 0, for mini-batches.
class BlockSamples {
 public:
  /// Keeps the first `max_samples` samples (<= 0: all). Batches must agree in
  /// every dim but the first.
  BlockSamples(const BlockInputs& inputs, const BlockInputs& targets, int64_t max_samples);
  int64_t size() const { return inputs_.size(0); }
  /// `n` distinct random samples (all if n >= size()).
  std::pair<at::Tensor, at::Tensor> draw(int64_t n, std::mt19937_64& rng) const;
  const at::Tensor& inputs() const { return inputs_; }
  const at::Tensor& targets() const { return targets_; }

 private:
  at::Tensor inputs_, targets_;
};

/// Mean squared error of block `block` over all samples (in chunks of `chunk`), no grad.
double block_loss(const Model& model, int64_t block, const BlockSamples& samples,
                  int64_t chunk = 32);

/// Truncates int64 token batches [n, L] to `seqlen` tokens (calibration windows
/// longer than an algorithm's seqlen); other batches are returned as they are.
CalibrationData truncate_tokens(const CalibrationData& calibration, int64_t seqlen);

/// Adam (Kingma & Ba) on a list of tensors, updated in place without autograd.
class Adam {
 public:
  Adam(std::vector<at::Tensor> params, double lr, double beta1 = 0.9, double beta2 = 0.999,
       double eps = 1e-8);
  void step();  ///< uses each param's .grad(), then zeroes it
 private:
  std::vector<at::Tensor> params_, m_, v_;
  double lr_, beta1_, beta2_, eps_;
  int64_t t_ = 0;
};

}  // namespace qtune

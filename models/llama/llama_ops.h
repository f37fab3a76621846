// The Llama decoder's operations as pure ATen functions, shared by inference
// (LlamaModel) and training (tiny_lm_train.cpp, under autograd). Conventions
// are Hugging Face's, so its checkpoints give its logits:
//   hidden [B, T, hidden]; per-head q/k/v [B, heads, T, head_dim].
#pragma once

#include <ATen/ATen.h>

#include <functional>

#include "models/llama/llama_config.h"

namespace qtune {

/// RMSNorm: weight * x / sqrt(mean(x^2 over the last dim) + eps), in fp32.
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps);

/// The rotary inverse frequencies [head_dim / 2]: theta^(-2i/head_dim), then
/// Llama 3's scaling when `scaling.type` is "llama3" (long wavelengths divided
/// by `factor`, short ones kept, a smooth blend between).
at::Tensor rope_inv_freq(int64_t head_dim, double theta, const RopeScaling& scaling);

/// cos and sin of position * inv_freq, for positions [0, positions), each
/// [positions, head_dim] with the half-table repeated (HF's cat(freqs, freqs)).
struct RopeTables {
  at::Tensor cos, sin;
};
RopeTables rope_tables(const at::Tensor& inv_freq, int64_t positions);

/// x * cos + rotate_half(x) * sin, with rotate_half(x) = cat(-x2, x1) (HF's
/// convention: the two halves of a head are a rotation pair, not neighbours).
/// x [B, H, T, D]; the rows `offset .. offset+T-1` of the tables are used.
at::Tensor apply_rope(const at::Tensor& x, const RopeTables& rope, int64_t offset);

/// Each of the [B, Hkv, S, D] heads repeated `n_rep` times along dim 1 (GQA).
at::Tensor repeat_kv(const at::Tensor& x, int64_t n_rep);

/// Causal attention: softmax(q k^T / sqrt(D) + mask) v. q [B, Hq, T, D] holds
/// the positions `offset .. offset+T-1`; k and v [B, Hkv, S, D] the positions
/// 0 .. S-1 (S = offset + T with a KV cache). Query i sees keys j <= offset + i.
/// Hq must be a multiple of Hkv (grouped-query attention).
at::Tensor causal_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            int64_t offset);

/// silu(gate) * up.
at::Tensor swiglu(const at::Tensor& gate, const at::Tensor& up);

/// The Linears of one decoder layer, in forward order (kLayerProj[j] is the
/// HF name under "model.layers.{i}.").
constexpr int kProjPerLayer = 7;
enum Proj { kQ = 0, kK, kV, kO, kGate, kUp, kDown };
extern const char* const kLayerProj[kProjPerLayer];

/// Past keys and values of one layer, [B, Hkv, S, D] each (undefined = empty).
struct LayerKv {
  at::Tensor k, v;
  int64_t length() const { return k.defined() ? k.size(2) : 0; }
};

/// One decoder layer: h + attn(norm(h)), then + mlp(norm(.)). `linear(j, x)`
/// applies projection j (a LayerSlot in inference, a parameter under autograd
/// in training). With `cache`, the layer's new keys/values are appended to it
/// and attention covers the cached positions too.
using ProjFn = std::function<at::Tensor(int proj, const at::Tensor& x)>;
at::Tensor llama_decoder_layer(const LlamaConfig& config, const at::Tensor& h, const ProjFn& linear,
                               const at::Tensor& input_norm, const at::Tensor& post_norm,
                               const RopeTables& rope, LayerKv* cache = nullptr);

}  // namespace qtune

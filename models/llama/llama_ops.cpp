#include "models/llama/llama_ops.h"

#include <cmath>

#include "common/error.h"

namespace qtune {

const char* const kLayerProj[kProjPerLayer] = {
    "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
    "mlp.gate_proj",    "mlp.up_proj",      "mlp.down_proj"};

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  const at::Tensor xf = x.to(at::kFloat);
  return weight * (xf * at::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps));
}

at::Tensor rope_inv_freq(int64_t head_dim, double theta, const RopeScaling& scaling) {
  QT_ASSERT(head_dim > 0 && head_dim % 2 == 0);
  // Computed in double and rounded once: the fp32 tables then differ from HF's
  // (which computes in fp32) by at most an ulp.
  at::Tensor inv = at::pow(theta, -at::arange(0, head_dim, 2, at::kDouble) / double(head_dim));
  if (scaling.type == "llama3") {
    const double old_ctx = static_cast<double>(scaling.original_max_position_embeddings);
    const double low_wavelen = old_ctx / scaling.low_freq_factor;
    const double high_wavelen = old_ctx / scaling.high_freq_factor;
    const at::Tensor wavelen = 2 * M_PI / inv;
    const at::Tensor scaled = at::where(wavelen > low_wavelen, inv / scaling.factor, inv);
    const at::Tensor smooth = (old_ctx / wavelen - scaling.low_freq_factor) /
                              (scaling.high_freq_factor - scaling.low_freq_factor);
    const at::Tensor blended = (1 - smooth) * scaled / scaling.factor + smooth * scaled;
    const at::Tensor medium = (wavelen >= high_wavelen).logical_and(wavelen <= low_wavelen);
    inv = at::where(medium, blended, scaled);
  } else {
    QT_ASSERT(scaling.type.empty(), "rope scaling ", scaling.type);
  }
  return inv.to(at::kFloat);
}

RopeTables rope_tables(const at::Tensor& inv_freq, int64_t positions) {
  const at::Tensor pos = at::arange(positions, at::kDouble);
  const at::Tensor freqs = at::outer(pos, inv_freq.to(at::kDouble));
  const at::Tensor emb = at::cat({freqs, freqs}, -1);
  return {emb.cos().to(at::kFloat), emb.sin().to(at::kFloat)};
}

namespace {
at::Tensor rotate_half(const at::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return at::cat({-x.slice(-1, half), x.slice(-1, 0, half)}, -1);
}
}  // namespace

at::Tensor apply_rope(const at::Tensor& x, const RopeTables& rope, int64_t offset) {
  const int64_t t = x.size(2);
  QT_CHECK(offset + t <= rope.cos.size(0), "rotary embeddings: positions up to ", offset + t,
           " exceed the table of ", rope.cos.size(0), " (max_position_embeddings)");
  const at::Tensor cos = rope.cos.slice(0, offset, offset + t);
  const at::Tensor sin = rope.sin.slice(0, offset, offset + t);
  return x * cos + rotate_half(x) * sin;
}

at::Tensor repeat_kv(const at::Tensor& x, int64_t n_rep) {
  if (n_rep == 1) return x;
  const int64_t b = x.size(0), h = x.size(1), s = x.size(2), d = x.size(3);
  return x.unsqueeze(2).expand({b, h, n_rep, s, d}).reshape({b, h * n_rep, s, d});
}

at::Tensor causal_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            int64_t offset) {
  QT_ASSERT(q.dim() == 4 && k.dim() == 4 && v.dim() == 4);
  const int64_t hq = q.size(1), hkv = k.size(1), t = q.size(2), s = k.size(2), d = q.size(3);
  QT_ASSERT(hq % hkv == 0 && s == offset + t, "hq ", hq, " hkv ", hkv, " s ", s, " t ", t);
  if (t == 1 && hq != hkv) {
    // One query per head (a decode step): the query heads that share a KV
    // head become rows of one product with that head's keys and values,
    // instead of copying the cache once per query head (repeat_kv) every step.
    const int64_t b = q.size(0), g = hq / hkv;
    const at::Tensor scores =
        at::matmul(q.reshape({b, hkv, g, d}), k.transpose(-2, -1)) / std::sqrt(double(d));
    return at::matmul(at::softmax(scores, -1), v).view({b, hq, 1, d});
  }
  const at::Tensor kr = repeat_kv(k, hq / hkv), vr = repeat_kv(v, hq / hkv);
  at::Tensor scores = at::matmul(q, kr.transpose(-2, -1)) / std::sqrt(static_cast<double>(d));
  if (t > 1) {
    // Query i (absolute position offset + i) must not see key j > offset + i.
    const at::Tensor qi = at::arange(offset, offset + t, at::kLong).unsqueeze(1);
    const at::Tensor kj = at::arange(s, at::kLong).unsqueeze(0);
    scores = scores.masked_fill(kj > qi, -std::numeric_limits<float>::infinity());
  }
  return at::matmul(at::softmax(scores, -1), vr);
}

at::Tensor swiglu(const at::Tensor& gate, const at::Tensor& up) { return at::silu(gate) * up; }

at::Tensor llama_decoder_layer(const LlamaConfig& c, const at::Tensor& h, const ProjFn& linear,
                               const at::Tensor& input_norm, const at::Tensor& post_norm,
                               const RopeTables& rope, LayerKv* cache) {
  const int64_t b = h.size(0), t = h.size(1);
  const at::Tensor x = rms_norm(h, input_norm, c.rms_norm_eps);
  // [B, T, H*D] -> [B, H, T, D]
  auto heads = [&](const at::Tensor& y, int64_t n) {
    return y.view({b, t, n, c.head_dim}).transpose(1, 2);
  };
  const int64_t offset = cache ? cache->length() : 0;
  at::Tensor q = apply_rope(heads(linear(kQ, x), c.num_attention_heads), rope, offset);
  at::Tensor k = apply_rope(heads(linear(kK, x), c.num_key_value_heads), rope, offset);
  at::Tensor v = heads(linear(kV, x), c.num_key_value_heads);
  if (cache) {
    if (cache->k.defined()) {
      k = at::cat({cache->k, k}, 2);
      v = at::cat({cache->v, v}, 2);
    }
    cache->k = k;
    cache->v = v;
  }
  const at::Tensor attn = causal_attention(q, k, v, offset).transpose(1, 2).reshape({b, t, -1});
  const at::Tensor h1 = h + linear(kO, attn);
  const at::Tensor y = rms_norm(h1, post_norm, c.rms_norm_eps);
  return h1 + linear(kDown, swiglu(linear(kGate, y), linear(kUp, y)));
}

}  // namespace qtune

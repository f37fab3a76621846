#include "storage/formats/gguf_export.h"

#include <map>
#include <sstream>

#include "backends/int8.h"
#include "common/error.h"
#include "models/llama/llama_model.h"
#include "quant/packing.h"
#include "storage/formats/ggml_blocks.h"
#include "storage/formats/gguf_tokenizer.h"
#include "storage/formats/gguf_writer.h"

namespace qtune {

namespace {

constexpr int64_t kBlock = 32;

/// llama.cpp's names of a decoder layer's projections, in kLayerProj order.
const char* const kGgufProj[kProjPerLayer] = {"attn_q",   "attn_k", "attn_v",  "attn_output",
                                              "ffn_gate", "ffn_up", "ffn_down"};

/// llama.cpp's llama_ftype of a file whose weights are mostly `t`.
uint32_t file_type_of(GgmlType t) {
  switch (t) {
    case GgmlType::kF32:
      return 0;
    case GgmlType::kF16:
      return 1;
    case GgmlType::kQ4_0:
      return 2;
    case GgmlType::kQ4_1:
      return 3;
    case GgmlType::kQ8_0:
      return 7;
    case GgmlType::kBF16:
      return 32;
  }
  return 0;
}

/// new row r of a q/k projection reads old row perm[r]: HF's rotate_half pairs
/// dim i with i + D/2 of each head, ggml's rope pairs 2i with 2i + 1, so per
/// head the rows [D/2 pairs, 2] come from [2, D/2] (convert_hf_to_gguf's permute).
at::Tensor rope_row_permutation(int64_t heads, int64_t rows) {
  QT_ASSERT(rows % (2 * heads) == 0);
  const int64_t half = rows / heads / 2;
  return at::arange(rows, at::kLong).view({heads, 2, half}).transpose(1, 2).reshape({rows});
}

std::vector<uint8_t> raw_bytes(const at::Tensor& t) {
  const at::Tensor c = t.contiguous();
  const auto* p = static_cast<const uint8_t*>(c.data_ptr());
  return std::vector<uint8_t>(p, p + c.numel() * c.element_size());
}

/// An unquantized tensor in `type` (F32, F16 or BF16): rounding only to the
/// checkpoint's own dtype.
std::vector<uint8_t> float_bytes(const at::Tensor& t, GgmlType type) {
  const at::ScalarType st = type == GgmlType::kF16    ? at::kHalf
                            : type == GgmlType::kBF16 ? at::kBFloat16
                                                      : at::kFloat;
  return raw_bytes(t.to(st));
}

GgmlType float_type_of(const std::string& torch_dtype) {
  if (torch_dtype == "float16") return GgmlType::kF16;
  if (torch_dtype == "bfloat16") return GgmlType::kBF16;
  return GgmlType::kF32;
}

struct Encoded {
  GgmlType type;
  std::vector<uint8_t> data;
};

/// Why the codes of `qw` fit no ggml type as they are ("" = they fit).
std::string unfit_reason(const QuantizedWeight& qw, int64_t cols) {
  const QuantSpec& s = qw.spec;
  std::ostringstream why;
  if (s.dtype != DType::kInt)
    why << "dtype " << to_string(s.dtype) << " (gguf carries int codes: Q8_0, Q4_0, Q4_1)";
  else if (!((s.bits == 8 && s.scheme == Scheme::kSym) || s.bits == 4))
    why << s.bits << "-bit " << to_string(s.scheme)
        << " (gguf carries 8-bit sym as Q8_0, 4-bit sym as Q4_0, 4-bit asym as Q4_1)";
  else if (s.group_dim != 1)
    why << "group_dim " << s.group_dim
        << " (gguf groups run along the input channels: group_dim 1)";
  else if (s.float_zero)
    why << "a float zero point (gguf's Q4_1 needs an integer zero point)";
  else if (s.scale_quant.enabled() || s.zero_quant.enabled())
    why << "double-quantized scales or zero points (gguf stores fp16 scales)";
  else if (cols % kBlock != 0)
    why << cols << " input columns (gguf blocks need a multiple of 32)";
  else if (s.effective_group_size(cols) % kBlock != 0)
    why << "group size " << s.effective_group_size(cols)
        << " (gguf needs a group of a multiple of 32 columns)";
  if (!why.str().empty() || !s.has_g_idx) return why.str();
  const int64_t g = s.effective_group_size(cols);
  const at::Tensor identity = at::arange(cols, at::kInt).div(g, "floor").to(at::kInt);
  if (!at::equal(qw.g_idx.to(at::kInt), identity))
    why << "act_order g_idx that reorders the groups (gguf groups are consecutive columns)";
  return why.str();
}

/// Codes carried exactly; per block of 32 the group's scale (and Q4_1's m = -scale * zero).
Encoded encode_codes(const QuantizedWeight& qw, const at::Tensor& row_perm) {
  const QuantSpec& s = qw.spec;
  const int64_t R = qw.matrix_rows(), C = qw.matrix_cols();
  at::Tensor codes = from_unsigned(unpack_rows(qw.packed, s.bits, C), s);
  at::Tensor scale = qw.scale;
  if (s.granularity == Granularity::kPerTensor) scale = scale.expand({R, 1});
  at::Tensor zero = qw.zero.defined() ? qw.zero : at::Tensor();
  if (zero.defined() && s.granularity == Granularity::kPerTensor) zero = zero.expand({R, 1});
  if (row_perm.defined()) {
    codes = codes.index_select(0, row_perm);
    scale = scale.index_select(0, row_perm);
    if (zero.defined()) zero = zero.index_select(0, row_perm);
  }
  // Block b of a row lies in group b * 32 / g: repeat each group's params per block.
  const int64_t g = s.effective_group_size(C);
  const at::Tensor block_group = at::arange(C / kBlock, at::kLong).mul(kBlock).div(g, "floor");
  const at::Tensor d = scale.index_select(1, block_group).to(at::kFloat).contiguous();
  codes = codes.to(at::kInt).contiguous();
  const int64_t n = R * C;
  if (s.bits == 8)
    return {GgmlType::kQ8_0, encode_q8_0(codes.data_ptr<int32_t>(), d.data_ptr<float>(), n)};
  if (s.scheme == Scheme::kSym)
    return {GgmlType::kQ4_0, encode_q4_0(codes.data_ptr<int32_t>(), d.data_ptr<float>(), n)};
  // qtune's (q - zero) * scale is ggml's d * q + m with m = -scale * zero, rounded once to fp16.
  const at::Tensor m =
      (-(scale * zero.to(at::kFloat))).index_select(1, block_group).to(at::kFloat).contiguous();
  return {GgmlType::kQ4_1,
          encode_q4_1(codes.data_ptr<int32_t>(), d.data_ptr<float>(), m.data_ptr<float>(), n)};
}

/// ggml's own rounding of a float weight [rows, cols]: Q8_0, or Q4_0 for `bits` <= 4.
Encoded requantize(const at::Tensor& w, int bits) {
  const at::Tensor c = w.to(at::kFloat).contiguous();
  if (bits <= 4) return {GgmlType::kQ4_0, requantize_q4_0(c.data_ptr<float>(), c.numel())};
  return {GgmlType::kQ8_0, requantize_q8_0(c.data_ptr<float>(), c.numel())};
}

class Exporter {
 public:
  Exporter(const LlamaModel& model, const ExportOptions& options)
      : model_(model), c_(model.config()), options_(options) {}

  void check_architecture() const {
    const std::string where = "gguf export of " + model_.spec() + ": ";
    QT_CHECK(c_.model_type == "llama" || c_.model_type == "mistral", where, "model_type ",
             c_.model_type, " is not written yet (gguf export handles llama and mistral)");
    QT_CHECK(c_.rope_scaling.type.empty(), where, "rope_scaling ", c_.rope_scaling.type,
             " is not written yet (gguf export handles unscaled RoPE)");
  }

  /// Every tensor, in llama.cpp's order.
  void add_tensors(GgufWriter& w) {
    const auto extra = model_.extra_tensors();
    const GgmlType ft = float_type_of(c_.torch_dtype);
    const at::Tensor& embed = extra.at("model.embed_tokens.weight");
    add_float(w, "token_embd.weight", embed, ft);
    std::map<std::string, const LayerSlot*> slots;
    for (const LayerSlot* s : static_cast<const Model&>(model_).layers()) slots[s->name()] = s;
    for (int64_t i = 0; i < c_.num_hidden_layers; ++i) {
      const std::string blk = "blk." + std::to_string(i) + ".";
      const std::string hf = "model.layers." + std::to_string(i) + ".";
      add_float(w, blk + "attn_norm.weight", extra.at(hf + "input_layernorm.weight"),
                GgmlType::kF32);
      for (int j = 0; j < kProjPerLayer; ++j) {
        at::Tensor perm;
        if (j == kQ) perm = rope_row_permutation(c_.num_attention_heads, c_.q_dim());
        if (j == kK) perm = rope_row_permutation(c_.num_key_value_heads, c_.kv_dim());
        add_layer(w, blk + kGgufProj[j], *slots.at(llama_layer_name(i, j)), perm, ft);
      }
      add_float(w, blk + "ffn_norm.weight", extra.at(hf + "post_attention_layernorm.weight"),
                GgmlType::kF32);
    }
    add_float(w, "output_norm.weight", extra.at("model.norm.weight"), GgmlType::kF32);
    const LayerSlot& head = *slots.at("lm_head");
    // Tied and untouched: llama.cpp reads token_embd as the output matrix itself.
    const bool shares_embedding = c_.tie_word_embeddings && !head.quantized() &&
                                  !head.input_multiplier().defined() &&
                                  at::equal(head.resident_weight(), embed);
    if (!shares_embedding) add_layer(w, "output", head, at::Tensor(), ft);
  }

  void add_metadata(GgufWriter& w) const {
    w.add_string("general.architecture", "llama");
    w.add_string("general.name", model_.spec());
    w.add_uint32("general.alignment", static_cast<uint32_t>(kGgufAlignment));
    w.add_uint32("general.quantization_version", 2);
    w.add_uint32("general.file_type", file_type_of(main_type()));
    w.add_uint32("llama.vocab_size", static_cast<uint32_t>(c_.vocab_size));
    w.add_uint32("llama.context_length", static_cast<uint32_t>(c_.max_position_embeddings));
    w.add_uint32("llama.embedding_length", static_cast<uint32_t>(c_.hidden_size));
    w.add_uint32("llama.block_count", static_cast<uint32_t>(c_.num_hidden_layers));
    w.add_uint32("llama.feed_forward_length", static_cast<uint32_t>(c_.intermediate_size));
    w.add_uint32("llama.rope.dimension_count", static_cast<uint32_t>(c_.head_dim));
    w.add_float32("llama.rope.freq_base", static_cast<float>(c_.rope_theta));
    w.add_uint32("llama.attention.head_count", static_cast<uint32_t>(c_.num_attention_heads));
    w.add_uint32("llama.attention.head_count_kv", static_cast<uint32_t>(c_.num_key_value_heads));
    w.add_uint32("llama.attention.key_length", static_cast<uint32_t>(c_.head_dim));
    w.add_uint32("llama.attention.value_length", static_cast<uint32_t>(c_.head_dim));
    w.add_float32("llama.attention.layer_norm_rms_epsilon", static_cast<float>(c_.rms_norm_eps));
  }

  std::vector<std::string> notes() const {
    std::vector<std::string> out;
    std::ostringstream types;
    for (const auto& [t, n] : elements_)
      types << (types.tellp() > 0 ? ", " : "") << ggml_type_name(t) << " " << n;
    out.push_back("gguf tensor elements by type: " + types.str());
    if (fp16_scales_)
      out.push_back(
          "scales rounded to fp16 (nearest even), and Q4_1's offset m = -scale * zero rounded to "
          "fp16 once; codes carried unchanged");
    for (const std::string& r : requantized_) out.push_back(r);
    return out;
  }

 private:
  void add_float(GgufWriter& w, const std::string& name, const at::Tensor& t, GgmlType type) {
    std::vector<int64_t> ne(t.sizes().rbegin(), t.sizes().rend());
    elements_[type] += t.numel();
    w.add_tensor(name, std::move(ne), type, float_bytes(t, type));
  }

  void add_layer(GgufWriter& w, const std::string& base, const LayerSlot& slot,
                 const at::Tensor& perm, GgmlType float_type) {
    const LayerKernel& k = *slot.kernel();
    const QuantizedWeight* qw = k.quantized_weight();
    const int64_t rows = slot.weight_sizes()[0], cols = slot.weight_sizes()[1];
    const std::vector<int64_t> ne{cols, rows};
    if (slot.bias()) {
      const at::Tensor b = perm.defined() ? slot.bias()->index_select(0, perm) : *slot.bias();
      add_float(w, base + ".bias", b, GgmlType::kF32);
    }
    std::string why;
    if (slot.input_multiplier().defined())
      why = "an inserted input multiplier (AWQ/SmoothQuant scaling gguf has no op for)";
    else if (dynamic_cast<const Int8Kernel*>(&k) != nullptr)
      why = "int8 activation quantization (gguf stores weight-only layers)";
    else if (qw != nullptr)
      why = unfit_reason(*qw, cols);
    else if (slot.quantized())
      why = "a quantized kernel (" + k.backend() + ") that exposes no quantized weight";
    if (qw == nullptr && why.empty()) {
      add_float(w, base + ".weight",
                perm.defined() ? slot.weight().index_select(0, perm) : slot.weight(), float_type);
      return;
    }
    Encoded e;
    if (why.empty()) {
      e = encode_codes(*qw, perm);
      fp16_scales_ = true;
    } else {
      QT_CHECK(options_.requantize, "gguf export: layer '", slot.name(), "' has ", why,
               "; re-quantize it with the requantize option, or quantize it as gguf can carry");
      // What qtune computes with: the dequantized weight, times the inserted multiplier.
      at::Tensor wf = qw ? qw->dequantize() : slot.weight();
      if (slot.input_multiplier().defined()) wf = wf * slot.input_multiplier().view({1, -1});
      if (perm.defined()) wf = wf.index_select(0, perm);
      QT_CHECK(cols % kBlock == 0, "gguf export: layer '", slot.name(), "' has ", cols,
               " input columns; re-quantizing needs a multiple of 32");
      e = requantize(wf, qw ? qw->spec.bits : 8);
      requantized_.push_back("re-quantized layer '" + slot.name() + "' to " +
                             ggml_type_name(e.type) + " with ggml's rounding (it had " + why + ")");
    }
    elements_[e.type] += rows * cols;
    w.add_tensor(base + ".weight", ne, e.type, std::move(e.data));
  }

  /// The quantized type holding most elements (the file's "mostly" type), else the float type.
  GgmlType main_type() const {
    GgmlType best = float_type_of(c_.torch_dtype);
    int64_t most = 0;
    for (const auto& [t, n] : elements_)
      if (ggml_block_size(t) > 1 && n > most) {
        best = t;
        most = n;
      }
    return best;
  }

  const LlamaModel& model_;
  const LlamaConfig& c_;
  const ExportOptions& options_;
  std::map<GgmlType, int64_t> elements_;
  bool fp16_scales_ = false;
  std::vector<std::string> requantized_;
};

}  // namespace

ExportReport export_gguf(const ExportInput& in, const std::filesystem::path& out) {
  QT_CHECK(in.model != nullptr, "gguf export: no model given");
  const auto* lm = dynamic_cast<const LlamaModel*>(in.model);
  QT_CHECK(lm != nullptr, "gguf export: model ", in.model->spec(),
           " is not a Llama-family language model (gguf export writes llama.cpp's llama)");
  Exporter ex(*lm, in.options);
  ex.check_architecture();
  GgufWriter w;
  // Tensors first (the file puts metadata first either way): a layer gguf
  // cannot carry is refused before the tokenizer is read, and file_type
  // counts what the tensors became.
  ex.add_tensors(w);
  ex.add_metadata(w);
  add_gguf_tokenizer(w, in.files_dir, lm->config().vocab_size);
  w.write(out);
  return {out, ex.notes()};
}

}  // namespace qtune

#include "models/llama/llama_model.h"

#include "common/error.h"
#include "models/llama/hf_checkpoint.h"
#include "models/named_tensors.h"

namespace qtune {

std::string llama_layer_name(int64_t layer, int proj) {
  return "model.layers." + std::to_string(layer) + "." + kLayerProj[proj];
}

namespace {

constexpr const char* kEmbed = "model.embed_tokens.weight";
constexpr const char* kFinalNorm = "model.norm.weight";

std::string norm_name(int64_t layer, bool post) {
  return "model.layers." + std::to_string(layer) +
         (post ? ".post_attention_layernorm.weight" : ".input_layernorm.weight");
}

}  // namespace

LlamaModel::LlamaModel(std::string spec, LlamaConfig config,
                       const std::map<std::string, at::Tensor>& tensors,
                       std::filesystem::path files_dir, at::ScalarType weights_dtype)
    : spec_(std::move(spec)), config_(std::move(config)), files_dir_(std::move(files_dir)) {
  const LlamaConfig& c = config_;
  const int64_t hidden = c.hidden_size;
  inv_freq_ = rope_inv_freq(c.head_dim, c.rope_theta, c.rope_scaling);
  embed_ = take_tensor(spec_, tensors, kEmbed, {c.vocab_size, hidden}, weights_dtype);
  final_norm_ = take_tensor(spec_, tensors, kFinalNorm, {hidden});
  const std::vector<int64_t> out_dims{c.q_dim(),           c.kv_dim(),          c.kv_dim(), hidden,
                                      c.intermediate_size, c.intermediate_size, hidden};
  const std::vector<int64_t> in_dims{
      hidden, hidden, hidden, c.q_dim(), hidden, hidden, c.intermediate_size};
  slots_.reserve(c.num_hidden_layers * kProjPerLayer + 1);
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    input_norms_.push_back(take_tensor(spec_, tensors, norm_name(i, false), {hidden}));
    post_norms_.push_back(take_tensor(spec_, tensors, norm_name(i, true), {hidden}));
    for (int j = 0; j < kProjPerLayer; ++j) {
      const std::string name = llama_layer_name(i, j);
      at::Tensor w =
          take_tensor(spec_, tensors, name + ".weight", {out_dims[j], in_dims[j]}, weights_dtype);
      const bool has_bias = (j <= kV && c.qkv_bias()) || (j == kO && c.o_bias());
      std::optional<at::Tensor> b;
      if (has_bias) b = take_tensor(spec_, tensors, name + ".bias", {out_dims[j]});
      slots_.emplace_back(name, LayerKind::kLinear, std::move(w), std::move(b));
    }
  }
  // Tied: lm_head starts as the embedding matrix itself (one tensor, not a
  // copy); quantizing or rescaling lm_head replaces its tensor, never the embedding.
  const bool have_head = tensors.count("lm_head.weight") > 0;
  QT_CHECK(have_head || c.tie_word_embeddings, "model ", spec_,
           ": tensor 'lm_head.weight' is missing (and tie_word_embeddings is false)");
  at::Tensor head = have_head ? take_tensor(spec_, tensors, "lm_head.weight",
                                            {c.vocab_size, hidden}, weights_dtype)
                              : embed_;
  slots_.emplace_back("lm_head", LayerKind::kLinear, std::move(head), std::nullopt);
}

void LlamaModel::check_ids(const at::Tensor& ids, int64_t past) const {
  QT_CHECK(ids.defined() && ids.dim() == 2 && ids.scalar_type() == at::kLong, "model ", spec_,
           ": input must be int64 token ids [batch, tokens], got ",
           ids.defined() ? ids.sizes() : at::IntArrayRef{}, " ",
           ids.defined() ? toString(ids.scalar_type()) : "undefined");
  QT_CHECK(ids.size(1) > 0, "model ", spec_, ": input has no tokens");
  const int64_t lo = ids.min().item<int64_t>(), hi = ids.max().item<int64_t>();
  QT_CHECK(lo >= 0 && hi < config_.vocab_size, "model ", spec_, ": token ids must be in [0, ",
           config_.vocab_size, "), got range [", lo, ", ", hi, "]");
  const int64_t total = past + ids.size(1);
  QT_CHECK(total <= config_.max_position_embeddings, "model ", spec_, ": ", total,
           " positions exceed max_position_embeddings ", config_.max_position_embeddings);
  config_.check_context(total, "model " + spec_);
}

at::Tensor LlamaModel::run_layer(int64_t layer, const at::Tensor& h, const RopeTables& rope,
                                 LayerKv* cache) const {
  const ProjFn linear = [&](int j, const at::Tensor& x) { return proj(layer, j)(x); };
  return llama_decoder_layer(config_, h, linear, input_norms_[layer], post_norms_[layer], rope,
                             cache);
}

at::Tensor LlamaModel::block_input(const at::Tensor& ids) const {
  check_ids(ids, 0);
  return at::embedding(embed_, ids).to(at::kFloat);
}

at::Tensor LlamaModel::run_block(int64_t block, const at::Tensor& hidden) const {
  QT_CHECK(block >= 0 && block < num_blocks(), "model ", spec_, ": no block ", block, " (it has ",
           num_blocks(), ")");
  QT_CHECK(hidden.dim() == 3 && hidden.size(2) == config_.hidden_size, "model ", spec_,
           ": a block input must be [batch, tokens, ", config_.hidden_size, "], got ",
           hidden.sizes());
  return run_layer(block, hidden, rope_tables(inv_freq_, hidden.size(1)), nullptr);
}

at::Tensor LlamaModel::head(const at::Tensor& hidden) const {
  return slots_.back()(rms_norm(hidden, final_norm_, config_.rms_norm_eps));
}

at::Tensor LlamaModel::forward(const at::Tensor& ids) const {
  at::Tensor h = block_input(ids);
  const RopeTables rope = rope_tables(inv_freq_, ids.size(1));
  for (int64_t i = 0; i < num_blocks(); ++i) h = run_layer(i, h, rope, nullptr);
  return head(h);
}

at::Tensor LlamaModel::forward_cached(const at::Tensor& ids, LlamaKvCache& cache) const {
  if (cache.empty()) cache.resize(config_.num_hidden_layers);
  QT_CHECK(static_cast<int64_t>(cache.size()) == config_.num_hidden_layers, "model ", spec_,
           ": a KV cache for ", cache.size(), " layers, the model has ", config_.num_hidden_layers);
  const int64_t past = cache[0].length();
  check_ids(ids, past);
  QT_CHECK(past == 0 || cache[0].k.size(0) == ids.size(0), "model ", spec_, ": batch of ",
           ids.size(0), " continues a KV cache of batch ", cache[0].k.size(0));
  at::Tensor h = at::embedding(embed_, ids).to(at::kFloat);
  const RopeTables rope = rope_tables(inv_freq_, past + ids.size(1));
  for (int64_t i = 0; i < num_blocks(); ++i) h = run_layer(i, h, rope, &cache[i]);
  return head(h);
}

std::vector<LayerSlot*> LlamaModel::layers() {
  std::vector<LayerSlot*> out;
  for (LayerSlot& s : slots_) out.push_back(&s);
  return out;
}

std::vector<LayerSlot*> LlamaModel::block_layers(int64_t block) {
  QT_CHECK(block >= 0 && block < num_blocks(), "model ", spec_, ": no block ", block, " (it has ",
           num_blocks(), ")");
  std::vector<LayerSlot*> out;
  for (int j = 0; j < kProjPerLayer; ++j) out.push_back(&slots_[block * kProjPerLayer + j]);
  return out;
}

std::map<std::string, at::Tensor> LlamaModel::extra_tensors() const {
  std::map<std::string, at::Tensor> out{{kEmbed, embed_}, {kFinalNorm, final_norm_}};
  for (int64_t i = 0; i < config_.num_hidden_layers; ++i) {
    out[norm_name(i, false)] = input_norms_[i];
    out[norm_name(i, true)] = post_norms_[i];
  }
  return out;
}

std::map<std::string, at::Tensor> LlamaModel::hf_tensors(
    const std::set<std::string>& stored_otherwise) const {
  std::map<std::string, at::Tensor> out = extra_tensors();
  for (const LayerSlot& s : slots_) {
    if (s.name() == "lm_head" && config_.tie_word_embeddings) continue;
    if (stored_otherwise.count(s.name())) continue;
    out[s.name() + ".weight"] = s.resident_weight();
    if (s.bias()) out[s.name() + ".bias"] = *s.bias();
  }
  return out;
}

at::ScalarType LlamaModel::source_dtype() const {
  return dtype_of_torch_dtype(config_.torch_dtype);
}

void LlamaModel::save_files(const std::filesystem::path& dir) const {
  write_hf_side_files(dir, config_, files_dir_);
}

std::unique_ptr<Model> LlamaModel::clone() const {
  // Copying shares the (immutable, replaced-never-written) tensors and kernels.
  std::unique_ptr<LlamaModel> copy(new LlamaModel(*this));
  for (LayerSlot& s : copy->slots_) s.clear_capture();
  return copy;
}

std::vector<InputScaleGroup> LlamaModel::input_scale_groups(int64_t block) {
  QT_CHECK(block >= 0 && block < num_blocks(), "model ", spec_, ": no block ", block, " (it has ",
           num_blocks(), ")");
  auto name = [&](int j) { return llama_layer_name(block, j); };
  // v_proj's output channels line up with o_proj's inputs only without GQA:
  // with it, each v channel feeds several o columns, which need the same scale.
  const bool mha = config_.num_key_value_heads == config_.num_attention_heads;
  return {{norm_name(block, false), {name(kQ), name(kK), name(kV)}},
          {mha ? name(kV) : "", {name(kO)}},
          {norm_name(block, true), {name(kGate), name(kUp)}},
          {name(kUp), {name(kDown)}}};
}

void LlamaModel::scale_producer_output(const std::string& producer, const at::Tensor& inv_scales) {
  for (int64_t i = 0; i < config_.num_hidden_layers; ++i) {
    for (bool post : {false, true}) {
      if (producer != norm_name(i, post)) continue;
      at::Tensor& w = post ? post_norms_[i] : input_norms_[i];
      QT_CHECK(inv_scales.dim() == 1 && inv_scales.size(0) == w.size(0), "model ", spec_, ": ",
               inv_scales.sizes(), " scales for norm '", producer, "' of ", w.size(0), " channels");
      w = w * inv_scales;  // a new tensor: clones keep the old one
      return;
    }
  }
  Model::scale_producer_output(producer, inv_scales);
}

}  // namespace qtune

// The Llama-family decoder (llama, mistral, qwen2) behind the Model adapter.
//
//   ids [B, T] -> embed_tokens -> layers[0..L) -> norm -> lm_head -> logits [B, T, V]
//   layer i: h += o_proj(attn(rope(q_proj(n)), rope(k_proj(n)), v_proj(n))), n = input_layernorm(h)
//            h += down_proj(silu(gate_proj(m)) * up_proj(m)),             m =
//            post_attention_layernorm(h)
//
// Tensor and layer names are Hugging Face's ("model.layers.3.self_attn.q_proj"),
// so a checkpoint's tensors map one to one. The block view is the decoder
// layers: block_input(ids) = the embeddings, run_block(i, h) = layer i, and
// lm_head (in no block) stays fp32 by default, as INC does.
#pragma once

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "models/llama/llama_config.h"
#include "models/llama/llama_ops.h"
#include "models/model.h"

namespace qtune {

/// Keys and values of every layer for the positions seen so far.
using LlamaKvCache = std::vector<LayerKv>;

class LlamaModel final : public Model {
 public:
  /// Builds the model from tensors named as in HF checkpoints (any float
  /// dtype). "lm_head.weight" is optional when the embeddings are tied. A
  /// missing or misshapen tensor is a qtune::Error naming it and `spec`.
  /// `files_dir`: the folder holding its config.json and tokenizer files
  /// (empty for a model built in memory); save_files copies them from there.
  /// `weights_dtype`: what the embeddings and the layers' weights are held in
  /// (take_tensor: bf16/fp16 tensors of that dtype are kept, not copied); the
  /// norms are fp32 and every computation is fp32 whatever holds the weights.
  LlamaModel(std::string spec, LlamaConfig config, const std::map<std::string, at::Tensor>& tensors,
             std::filesystem::path files_dir = {}, at::ScalarType weights_dtype = at::kFloat);

  const LlamaConfig& config() const { return config_; }
  std::string spec() const override { return spec_; }

  /// ids int64 [B, T] -> fp32 logits [B, T, vocab].
  at::Tensor forward(const at::Tensor& ids) const override;
  /// The same for ids that continue the sequences held in `cache` (empty = a
  /// fresh start); their keys/values are appended to it.
  at::Tensor forward_cached(const at::Tensor& ids, LlamaKvCache& cache) const;

  std::vector<LayerSlot*> layers() override;
  std::map<std::string, at::Tensor> extra_tensors() const override;
  std::unique_ptr<Model> clone() const override;
  std::vector<std::string> default_fp32_layers() const override { return {"lm_head"}; }
  /// config().torch_dtype.
  at::ScalarType source_dtype() const override;
  /// config.json (config() as the source folder's own file states it, else as
  /// written from scratch) and the tokenizer files found in the source folder.
  void save_files(const std::filesystem::path& dir) const override;

  int64_t num_blocks() const override { return config_.num_hidden_layers; }
  std::vector<LayerSlot*> block_layers(int64_t block) override;
  /// The token embeddings [B, T, hidden] of ids [B, T].
  at::Tensor block_input(const at::Tensor& ids) const override;
  at::Tensor run_block(int64_t block, const at::Tensor& hidden) const override;
  /// The final norm and lm_head on the last block's output: logits.
  at::Tensor head(const at::Tensor& hidden) const;
  std::vector<InputScaleGroup> input_scale_groups(int64_t block) override;

  /// Every tensor under its HF name (what model.safetensors holds): the layers'
  /// current weights (as held) and biases and the extra tensors; no lm_head when
  /// tied, and no weight of the layers named in `stored_otherwise`.
  std::map<std::string, at::Tensor> hf_tensors(
      const std::set<std::string>& stored_otherwise = {}) const;

 protected:
  void scale_producer_output(const std::string& producer, const at::Tensor& inv_scales) override;

 private:
  LlamaModel(const LlamaModel&) = default;
  const LayerSlot& proj(int64_t layer, int j) const { return slots_[layer * kProjPerLayer + j]; }
  void check_ids(const at::Tensor& ids, int64_t past) const;
  at::Tensor run_layer(int64_t layer, const at::Tensor& h, const RopeTables& rope,
                       LayerKv* cache) const;

  std::string spec_;
  LlamaConfig config_;
  std::filesystem::path files_dir_;
  at::Tensor inv_freq_;
  at::Tensor embed_;
  std::vector<at::Tensor> input_norms_, post_norms_;
  at::Tensor final_norm_;
  std::vector<LayerSlot> slots_;  ///< layer-major, kProjPerLayer each, then lm_head
};

/// "model.layers.{layer}.{kLayerProj[proj]}"
std::string llama_layer_name(int64_t layer, int proj);

}  // namespace qtune

#include "models/llama/llama_init.h"

#include "models/llama/llama_model.h"

namespace qtune {

std::map<std::string, at::Tensor> init_llama_tensors(const LlamaConfig& c, double init_std,
                                                     at::Generator& gen, at::ScalarType dtype) {
  std::map<std::string, at::Tensor> out;
  // The draw order (embeddings, each layer's projections, lm_head) is what the
  // trained tiny LMs' cached weights depend on: changing it changes them.
  auto normal = [&](const std::string& name, std::vector<int64_t> shape) {
    out[name] = at::empty(shape, at::kFloat).normal_(0, init_std, gen).to(dtype);
  };
  auto ones = [&](const std::string& name) {
    out[name] = at::ones({c.hidden_size}, at::TensorOptions().dtype(dtype));
  };
  normal("model.embed_tokens.weight", {c.vocab_size, c.hidden_size});
  const std::vector<int64_t> out_dims{c.q_dim(),     c.kv_dim(),          c.kv_dim(),
                                      c.hidden_size, c.intermediate_size, c.intermediate_size,
                                      c.hidden_size};
  const std::vector<int64_t> in_dims{c.hidden_size, c.hidden_size, c.hidden_size,      c.q_dim(),
                                     c.hidden_size, c.hidden_size, c.intermediate_size};
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string layer = "model.layers." + std::to_string(i) + ".";
    ones(layer + "input_layernorm.weight");
    ones(layer + "post_attention_layernorm.weight");
    for (int j = 0; j < kProjPerLayer; ++j) {
      normal(llama_layer_name(i, j) + ".weight", {out_dims[j], in_dims[j]});
      if ((j <= kV && c.qkv_bias()) || (j == kO && c.o_bias()))
        out[llama_layer_name(i, j) + ".bias"] =
            at::zeros({out_dims[j]}, at::TensorOptions().dtype(dtype));
    }
  }
  ones("model.norm.weight");
  if (!c.tie_word_embeddings) normal("lm_head.weight", {c.vocab_size, c.hidden_size});
  return out;
}

}  // namespace qtune

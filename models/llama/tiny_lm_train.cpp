// The one TU of models/llama that includes <torch/torch.h>: training needs
// autograd and torch::optim::AdamW, which ATen alone does not give.
#include "models/llama/tiny_lm_train.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>

#include "common/error.h"
#include "models/compute_threads.h"
#include "models/llama/llama_init.h"
#include "models/llama/llama_model.h"
#include "models/llama/llama_ops.h"

namespace qtune {

std::string TinyLmRecipe::tag(const LlamaConfig& c) const {
  return detail::concat("tiny-lm-train/1 config=", llama_config_to_json(c).dump(), " steps=", steps,
                        " batch=", batch, " context=", context, " lr=", lr,
                        " final=", final_lr_ratio, " warmup=", warmup, " wd=", weight_decay,
                        " init=", init_std, " seed=", seed, " threads=", threads);
}

namespace {

double lr_at(const TinyLmRecipe& r, int64_t step) {
  if (step < r.warmup) return r.lr * (step + 1) / r.warmup;
  const double progress =
      static_cast<double>(step - r.warmup) / std::max<int64_t>(1, r.steps - r.warmup);
  const double floor = r.lr * r.final_lr_ratio;
  return floor + 0.5 * (r.lr - floor) * (1 + std::cos(M_PI * progress));
}

}  // namespace

std::map<std::string, at::Tensor> train_tiny_lm(const LlamaConfig& c,
                                                const std::vector<int64_t>& tokens,
                                                const TinyLmRecipe& r, bool progress) {
  QT_CHECK(static_cast<int64_t>(tokens.size()) > r.context + 1, "tiny LM training: ", tokens.size(),
           " tokens cannot fill a window of ", r.context + 1);
  QT_ASSERT(r.steps > 0 && r.batch > 0 && r.warmup > 0);
  // OpenBLAS too: its thread count changes the weights (README, "Which
  // machines train the same weights").
  ComputeThreadsScope threads(r.threads);
  // A private generator: the global torch seed is left alone.
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(r.seed);
  std::map<std::string, torch::Tensor> params = init_llama_tensors(c, r.init_std, gen);
  for (auto& [name, p] : params) p.requires_grad_();

  std::vector<torch::Tensor> all, decayed, plain;
  for (auto& [name, p] : params) {
    all.push_back(p);
    (p.dim() >= 2 ? decayed : plain).push_back(p);
  }
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decayed, std::make_unique<torch::optim::AdamWOptions>(
                                   torch::optim::AdamWOptions(r.lr).weight_decay(r.weight_decay)));
  groups.emplace_back(plain, std::make_unique<torch::optim::AdamWOptions>(
                                 torch::optim::AdamWOptions(r.lr).weight_decay(0.0)));
  torch::optim::AdamW optimizer(groups, torch::optim::AdamWOptions(r.lr).betas({0.9, 0.95}));
  for (auto& g : optimizer.param_groups())
    static_cast<torch::optim::AdamWOptions&>(g.options()).betas({0.9, 0.95});

  const RopeTables rope =
      rope_tables(rope_inv_freq(c.head_dim, c.rope_theta, c.rope_scaling), r.context);
  auto forward = [&](const torch::Tensor& ids) {
    torch::Tensor h = at::embedding(params.at("model.embed_tokens.weight"), ids);
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
      const std::string layer = "model.layers." + std::to_string(i) + ".";
      const ProjFn linear = [&](int j, const at::Tensor& x) {
        const std::string name = llama_layer_name(i, j);
        auto b = params.find(name + ".bias");
        return b == params.end() ? at::linear(x, params.at(name + ".weight"))
                                 : at::linear(x, params.at(name + ".weight"), b->second);
      };
      h = llama_decoder_layer(c, h, linear, params.at(layer + "input_layernorm.weight"),
                              params.at(layer + "post_attention_layernorm.weight"), rope);
    }
    h = rms_norm(h, params.at("model.norm.weight"), c.rms_norm_eps);
    return at::linear(
        h, params.at(c.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight"));
  };

  // std::mt19937_64 is fully specified: the same windows on every machine.
  std::mt19937_64 rng(r.seed);
  const uint64_t starts = tokens.size() - static_cast<size_t>(r.context) - 1;
  std::vector<int64_t> batch(static_cast<size_t>(r.batch * (r.context + 1)));
  const auto start = std::chrono::steady_clock::now();
  double running = 0;
  for (int64_t step = 0; step < r.steps; ++step) {
    for (int64_t b = 0; b < r.batch; ++b) {
      const uint64_t s = rng() % (starts + 1);
      std::copy(tokens.begin() + s, tokens.begin() + s + r.context + 1,
                batch.begin() + b * (r.context + 1));
    }
    const at::Tensor win = at::from_blob(batch.data(), {r.batch, r.context + 1}, at::kLong);
    const torch::Tensor ids = win.slice(1, 0, r.context).contiguous();
    const torch::Tensor targets = win.slice(1, 1).contiguous();
    const double lr = lr_at(r, step);
    for (auto& g : optimizer.param_groups())
      static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
    optimizer.zero_grad();
    const torch::Tensor logits = forward(ids);
    torch::Tensor loss =
        torch::cross_entropy_loss(logits.view({-1, c.vocab_size}), targets.view({-1}));
    loss.backward();
    torch::nn::utils::clip_grad_norm_(all, 1.0);
    optimizer.step();
    if (!progress) continue;
    const double l = loss.item<double>();
    running = step == 0 ? l : 0.9 * running + 0.1 * l;
    if ((step + 1) % 10 == 0 || step + 1 == r.steps) {
      const double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::fprintf(stderr, "qtune: tiny LM step %lld/%lld loss %.3f lr %.2e %.0fs, ETA %.0fs\n",
                   static_cast<long long>(step + 1), static_cast<long long>(r.steps), running, lr,
                   elapsed, elapsed / (step + 1) * (r.steps - step - 1));
    }
  }
  std::map<std::string, at::Tensor> out;
  for (auto& [name, p] : params) out[name] = p.detach().clone();
  return out;
}

}  // namespace qtune

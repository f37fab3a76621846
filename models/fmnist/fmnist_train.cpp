// The one TU of qtune that includes <torch/torch.h>: training needs autograd
// and torch::optim, which ATen alone does not give.
#include "models/fmnist/fmnist_train.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>

#include "common/error.h"
#include "models/compute_threads.h"
#include "models/fmnist/fmnist_cnn.h"

namespace qtune {

std::string FmnistTrainRecipe::tag() const {
  return detail::concat("fmnist-cnn-train/1 epochs=", epochs, " max_steps=", max_steps,
                        " batch=", batch, " lr=", lr, " cosine=", cosine, " seed=", seed,
                        " threads=", threads);
}

namespace {

// Fisher-Yates with std::mt19937_64 (fully specified by the standard), so the
// order does not depend on the LibTorch version.
std::vector<int64_t> shuffled(int64_t n, std::mt19937_64& rng) {
  std::vector<int64_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  for (int64_t i = n - 1; i > 0; --i) {
    const int64_t j = static_cast<int64_t>(rng() % static_cast<uint64_t>(i + 1));
    std::swap(idx[i], idx[j]);
  }
  return idx;
}

}  // namespace

std::map<std::string, at::Tensor> train_fmnist_cnn(const Dataset& train,
                                                   const FmnistTrainRecipe& recipe, bool progress) {
  QT_ASSERT(recipe.batch > 0 && recipe.epochs > 0);
  QT_CHECK(train.size() >= recipe.batch, "training set too small: ", train.size(),
           " rows for batch ", recipe.batch);
  // OpenBLAS too: its thread count changes the weights (README, "Which
  // machines train the same weights").
  ComputeThreadsScope threads(recipe.threads);

  // PyTorch's default init for Conv2d/Linear, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for
  // weight and bias, from a private generator: the global torch seed is left alone.
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(recipe.seed);
  std::vector<std::string> names;
  std::vector<torch::Tensor> params;
  for (const FmnistLayerSpec& l : fmnist_cnn_layers()) {
    const int64_t fan_in = std::accumulate(l.weight_shape.begin() + 1, l.weight_shape.end(),
                                           int64_t{1}, std::multiplies<int64_t>());
    const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
    for (const char* suffix : {".weight", ".bias"}) {
      const std::vector<int64_t> shape = std::string(suffix) == ".weight"
                                             ? l.weight_shape
                                             : std::vector<int64_t>{l.weight_shape[0]};
      names.push_back(std::string(l.name) + suffix);
      at::Tensor p = at::empty(shape, at::kFloat).uniform_(-bound, bound, gen);
      // Channels-last convs and pools are ~3x faster than NCHW in LibTorch 1.13's
      // CPU backward (measured: 30 vs 93 ms per step of 128 on one core).
      if (p.dim() == 4) p = p.contiguous(at::MemoryFormat::ChannelsLast);
      params.push_back(p.requires_grad_());
    }
  }
  const ConvGeometry g = fmnist_conv_geometry();
  auto forward = [&](const torch::Tensor& x) {
    torch::Tensor h = torch::max_pool2d(
        torch::relu(torch::conv2d(x, params[0], params[1], g.stride, g.padding)), {2, 2});
    h = torch::max_pool2d(torch::relu(torch::conv2d(h, params[2], params[3], g.stride, g.padding)),
                          {2, 2});
    h = torch::relu(torch::linear(h.flatten(1), params[4], params[5]));
    return torch::linear(h, params[6], params[7]);
  };

  torch::optim::Adam optimizer(params, torch::optim::AdamOptions(recipe.lr));
  std::mt19937_64 rng(recipe.seed);
  const int64_t steps_per_epoch = train.size() / recipe.batch;  // the ragged tail is dropped
  int64_t total_steps = steps_per_epoch * recipe.epochs;
  if (recipe.max_steps >= 0) total_steps = std::min(total_steps, recipe.max_steps);
  const auto start = std::chrono::steady_clock::now();
  int64_t step = 0;
  double running_loss = 0;
  for (int64_t epoch = 0; epoch < recipe.epochs && step < total_steps; ++epoch) {
    const std::vector<int64_t> order = shuffled(train.size(), rng);
    const at::Tensor order_t = at::from_blob(const_cast<int64_t*>(order.data()),
                                             {static_cast<int64_t>(order.size())}, at::kLong);
    for (int64_t b = 0; b < steps_per_epoch && step < total_steps; ++b, ++step) {
      const at::Tensor idx = order_t.slice(0, b * recipe.batch, (b + 1) * recipe.batch);
      const torch::Tensor x =
          train.inputs.index_select(0, idx).contiguous(at::MemoryFormat::ChannelsLast);
      const torch::Tensor y = train.labels.index_select(0, idx);
      if (recipe.cosine) {
        const double lr = 0.5 * recipe.lr * (1 + std::cos(M_PI * step / total_steps));
        static_cast<torch::optim::AdamOptions&>(optimizer.param_groups()[0].options()).lr(lr);
      }
      optimizer.zero_grad();
      torch::Tensor loss = torch::cross_entropy_loss(forward(x), y);
      loss.backward();
      optimizer.step();
      if (!progress) continue;
      running_loss =
          step == 0 ? loss.item<double>() : 0.95 * running_loss + 0.05 * loss.item<double>();
      if ((step + 1) % 50 == 0 || step + 1 == total_steps) {
        const double elapsed =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        const double eta = elapsed / (step + 1) * (total_steps - step - 1);
        std::fprintf(stderr,
                     "qtune: training fmnist-cnn: epoch %lld/%lld step %lld/%lld loss %.4f  "
                     "%.0fs elapsed, ETA %.0fs\n",
                     static_cast<long long>(epoch + 1), static_cast<long long>(recipe.epochs),
                     static_cast<long long>(step + 1), static_cast<long long>(total_steps),
                     running_loss, elapsed, eta);
      }
    }
  }

  std::map<std::string, at::Tensor> out;
  for (size_t i = 0; i < params.size(); ++i)
    out[names[i]] = params[i].detach().contiguous(at::MemoryFormat::Contiguous).clone();
  return out;
}

}  // namespace qtune

// Small TorchScript classifiers the tests build with LibTorch's C++ API and
// save as a user's torch.jit.save would: the built-in Fashion-MNIST CNN's
// architecture (so the built-in model is the reference for its logits) and
// an MLP. Each Linear/Conv2d is a submodule holding `weight` and `bias`.
#pragma once

#include <torch/script.h>

#include <filesystem>
#include <map>
#include <string>

namespace qtune::testing {

inline torch::jit::Module scripted_layer(const std::string& type, const at::Tensor& weight,
                                         const at::Tensor& bias, const std::string& forward) {
  torch::jit::Module m(c10::QualifiedName("__torch__." + type));
  m.register_parameter("weight", weight.clone(), false);
  m.register_parameter("bias", bias.clone(), false);
  m.define("def forward(self, x):\n    return " + forward + "\n");
  return m;
}

inline torch::jit::Module scripted_conv(const std::string& type, const at::Tensor& w,
                                        const at::Tensor& b) {
  return scripted_layer(type, w, b,
                        "torch.conv2d(x, self.weight, self.bias, [1, 1], [1, 1], [1, 1], 1)");
}

inline torch::jit::Module scripted_linear(const std::string& type, const at::Tensor& w,
                                          const at::Tensor& b) {
  return scripted_layer(type, w, b, "torch.linear(x, self.weight, self.bias)");
}

/// The built-in CNN's forward (models/fmnist/fmnist_cnn.cpp) with `tensors`
/// ("conv1.weight", "conv1.bias", ..., "fc2.bias"), saved to `file`.
inline void save_scripted_fmnist_cnn(const std::filesystem::path& file,
                                     const std::map<std::string, at::Tensor>& tensors) {
  torch::jit::Module net(c10::QualifiedName("__torch__.FmnistCnn"));
  auto t = [&](const std::string& name) { return tensors.at(name); };
  net.register_module("conv1", scripted_conv("Conv1", t("conv1.weight"), t("conv1.bias")));
  net.register_module("conv2", scripted_conv("Conv2", t("conv2.weight"), t("conv2.bias")));
  net.register_module("fc1", scripted_linear("Fc1", t("fc1.weight"), t("fc1.bias")));
  net.register_module("fc2", scripted_linear("Fc2", t("fc2.weight"), t("fc2.bias")));
  net.define(R"(def forward(self, x):
    x = torch.max_pool2d(torch.relu(self.conv1.forward(x)), [2, 2])
    x = torch.max_pool2d(torch.relu(self.conv2.forward(x)), [2, 2])
    x = torch.relu(self.fc1.forward(torch.flatten(x, 1)))
    return self.fc2.forward(x)
)");
  net.save(file.string());
}

/// flatten -> fc1 (784 -> 64) -> relu -> fc2 (64 -> 10), N(0, 0.05) weights
/// drawn from `seed`, saved to `file`.
inline void save_scripted_mlp(const std::filesystem::path& file, uint64_t seed) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto draw = [&](at::IntArrayRef shape) { return at::normal(0.0, 0.05, shape, gen); };
  torch::jit::Module net(c10::QualifiedName("__torch__.Mlp"));
  net.register_module("fc1", scripted_linear("MlpFc1", draw({64, 784}), draw({64})));
  net.register_module("fc2", scripted_linear("MlpFc2", draw({10, 64}), draw({10})));
  net.define(R"(def forward(self, x):
    return self.fc2.forward(torch.relu(self.fc1.forward(torch.flatten(x, 1))))
)");
  net.save(file.string());
}

}  // namespace qtune::testing

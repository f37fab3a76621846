// The Fashion-MNIST CNN family of the model catalog (models/catalog.h):
// builtin:fmnist-cnn (the default model, trained on first use and cached) and
// builtin:fmnist-cnn-tiny (the same CNN trained for a few steps: tests), and
// their task data (the Fashion-MNIST splits, or the user's IDX/.npy files).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "models/catalog.h"

namespace qtune {

bool is_fmnist_spec(const std::string& spec);
/// "builtin:fmnist-cnn, builtin:fmnist-cnn-tiny", for error messages.
std::string fmnist_specs();
std::vector<BuiltinInfo> fmnist_infos(const std::filesystem::path& cache_dir);
/// The trained CNN, from the cache or trained there first.
ModelPtr load_fmnist_model(const std::string& spec, const ModelOptions& options);
ModelPtr build_fmnist_model(const std::string& spec,
                            const std::map<std::string, at::Tensor>& tensors);
/// Calibration rows drawn with the seed from the training split (or the
/// user's images), the first eval_samples test images (<= 0: all).
TaskData fmnist_task_data(const std::string& spec, const TaskRequest& r);
/// The same for any classifier of 28x28 single-channel images in 10 classes
/// (a TorchScript one): the user's images, else the Fashion-MNIST splits,
/// which get the built-in CNN's normalisation when `builtin_normalisation`,
/// else the user's scaling (x / 255, then normalize: {mean, std} if given).
TaskData image_classifier_task_data(const std::string& spec, const TaskRequest& r,
                                    bool builtin_normalisation);

}  // namespace qtune

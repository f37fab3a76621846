// The TorchScript family of the model catalog (models/catalog.h):
// "torchscript:FILE.pt", a user's scripted or traced image classifier
// (models/torchscript/torchscript_model.h), with classifier task data.
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "models/catalog.h"

namespace qtune {

/// The module of "torchscript:FILE" (float32 weights only).
ModelPtr load_torchscript_family_model(const std::string& spec, const ModelOptions& options);
/// The module from a saved copy (`files_dir` holding kTorchScriptFile) or
/// from the spec's file, each layer given its saved weight and bias.
ModelPtr build_torchscript_model(const std::string& spec,
                                 const std::map<std::string, at::Tensor>& tensors,
                                 const std::filesystem::path& files_dir);
/// Classifier data (image_classifier_task_data), scaled as the user says.
TaskData torchscript_task_data(const std::string& spec, const TaskRequest& r);

}  // namespace qtune

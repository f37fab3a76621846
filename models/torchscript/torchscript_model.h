// A user's TorchScript module (torch.jit.script or torch.jit.trace, saved
// with torch.jit.save) as a qtune model: "torchscript:FILE.pt".
//
// Loading inlines the module's forward graph and replaces each aten::linear
// and aten::conv2d (a traced aten::_convolution too) whose weight is a
// submodule attribute by a call of the registered op qtune::layer(x, index),
// which runs the model's LayerSlot `index`. The forward then runs through the
// module's own graph, with every Linear/Conv2d on its slot's kernel: weight-only,
// dynamic and static int8 kernels alike, each layer quantizing its own input
// (activations are never kept quantized between layers, since the graph's
// other ops are ATen's). Layer names are the attribute paths ("features.0").
// The graph executor runs unoptimized (no profiling, no fusion), so a
// forward computes what its ops say, on any thread count.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "models/model.h"

namespace qtune {

/// The file a saved model keeps the module in (a self-contained save).
inline constexpr const char* kTorchScriptFile = "torchscript.pt";

/// Whether `spec` names a TorchScript file ("torchscript:FILE").
bool is_torchscript_spec(const std::string& spec);
/// The file of "torchscript:FILE" (what a run reads and hashes), and the spec
/// of the same file moved to `file`.
std::filesystem::path torchscript_file(const std::string& spec);
std::string torchscript_spec(const std::filesystem::path& file);

/// Loads "torchscript:FILE", or `file` itself when given (a saved copy).
/// Errors (no such file, not a TorchScript archive, no forward method, no
/// Linear/Conv2d, a convolution whose geometry is not constant) are
/// qtune::Errors naming the file.
ModelPtr load_torchscript_model(const std::string& spec, const std::filesystem::path& file = {});

}  // namespace qtune

// Backends: how a quantized layer executes. Registered by name, chosen
// automatically from the CPU and what is installed, overridable by name.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "backends/layer_kernel.h"

namespace qtune {

struct Backend {
  std::string name;  ///< "eager", later "native", "onednn", "torch"
  /// Whether this backend can run `w` for `kind`; if not, `reason` says why
  /// in a short stable string (stored with the trial).
  std::function<bool(LayerKind kind, const QuantSpec& spec, std::string* reason)> supports;
  /// Builds the executable quantized layer.
  std::function<LayerKernelPtr(LayerKind kind, QuantizedWeight w, std::optional<at::Tensor> bias,
                               const ConvGeometry& geometry)>
      make_kernel;
};

/// All registered backends, in preference order (most specialised first;
/// eager, the reference, is always last and supports everything).
const std::vector<Backend>& backends();
/// The backend called `name`, or qtune::Error listing the known names.
const Backend& backend_by_name(const std::string& name);

/// Resolves "auto" (or an explicit name) for one layer: the first backend in
/// preference order that supports it. `reason` gets why it was chosen.
const Backend& choose_backend(const std::string& requested, LayerKind kind, const QuantSpec& spec,
                              std::string* reason);

}  // namespace qtune

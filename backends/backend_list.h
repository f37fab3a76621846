// The backends and the choice among them: one ordered list for weight-only
// and int8 layers alike, and one `choose_backend` that takes the first backend
// able to run a layer and records why each one before it was skipped, as
// oneDNN's implementation lists do (ONEDNN_VERBOSE=dispatch). The contracts a
// backend implements (layer_kernel.h, int8.h) name no backend; this file does.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "backends/int8.h"
#include "backends/layer_kernel.h"

namespace qtune {

/// The reasons the list itself gives, short and stable: they are stored with
/// every trial and saved model, and tests compare them. A backend's own
/// refusals ("oneDNN ISA avx2 has no int8 dot product ...") come from its
/// supports(); the full recorded reason of an automatic choice reads
///   auto[: <note>][; skipped <name>: <why>, <name>: <why>]
namespace backend_reason {
inline constexpr char kRequested[] = "requested";  ///< the config named the backend
inline constexpr char kAuto[] = "auto";            ///< first in the list that runs the layer
inline constexpr char kSkipped[] = "skipped";      ///< leads the list of passed-over backends
inline constexpr char kNoWeightOnly[] = "no weight-only kernels";  ///< backend runs int8 only
inline constexpr char kNoInt8[] = "no int8 kernels";        ///< backend runs weight-only only
inline constexpr char kKeptFp32[] = "kept fp32 by config";  ///< the layer was not quantized
}  // namespace backend_reason

/// How a backend runs weight-only layers (any bits, scheme, group; see QuantSpec).
struct WeightOnlyEntry {
  /// Whether it runs `spec` for `kind`; if not, `reason` says why.
  std::function<bool(LayerKind kind, const QuantSpec& spec, std::string* reason)> supports;
  std::function<LayerKernelPtr(LayerKind kind, QuantizedWeight w, std::optional<at::Tensor> bias,
                               const ConvGeometry& geometry)>
      make_kernel;
  /// What an automatic choice adds to "auto" (the ISA found, ...), or empty.
  std::function<std::string()> auto_note;
};

/// How a backend runs int8 (W8A8) layers (see int8.h).
struct Int8Entry {
  std::function<bool(LayerKind kind, const Int8Layer& layer, std::string* reason)> supports;
  std::function<LayerKernelPtr(LayerKind kind, Int8Layer layer, const ConvGeometry& geometry)>
      make_kernel;
  /// What an automatic choice adds to "auto" (the ISA found, the engine), or empty.
  std::function<std::string()> auto_note;
};

struct Backend {
  std::string name;             ///< "native", "onednn", "torch", "eager", ...
  WeightOnlyEntry weight_only;  ///< empty when the backend runs no weight-only layer
  Int8Entry int8;               ///< empty when the backend runs no int8 layer

  bool runs_weight_only() const { return static_cast<bool>(weight_only.supports); }
  bool runs_int8() const { return static_cast<bool>(int8.supports); }
  /// False with backend_reason::kNoWeightOnly / kNoInt8 when the family is missing.
  bool supports(LayerKind kind, const QuantSpec& spec, std::string* reason) const;
  bool supports(LayerKind kind, const Int8Layer& layer, std::string* reason) const;
  LayerKernelPtr make_kernel(LayerKind kind, QuantizedWeight w, std::optional<at::Tensor> bias,
                             const ConvGeometry& geometry) const;
  LayerKernelPtr make_kernel(LayerKind kind, Int8Layer layer, const ConvGeometry& geometry) const;
  /// The family's auto_note for this kind of layer, "" when it has none.
  std::string auto_note(const QuantSpec&) const {
    return weight_only.auto_note ? weight_only.auto_note() : "";
  }
  std::string auto_note(const Int8Layer&) const { return int8.auto_note ? int8.auto_note() : ""; }
};

/// Every backend, in preference order (most specialised first; eager, the
/// reference, is last and runs every weight-only and int8 layer).
const std::vector<Backend>& backends();
/// The names of backends(), in order (what a config's `backend:` may say besides "auto").
std::vector<std::string> backend_names();
/// The backend called `name`, or qtune::Error listing the known names.
const Backend& backend_by_name(const std::string& name);

/// Resolves "auto" or a backend name for one layer: a named backend must run
/// it (qtune::Error with its reason otherwise), "auto" takes the first in
/// backends() that does. `reason` gets why (see backend_reason).
const Backend& choose_backend(const std::string& requested, LayerKind kind, const QuantSpec& spec,
                              std::string* reason);
const Backend& choose_backend(const std::string& requested, LayerKind kind, const Int8Layer& layer,
                              std::string* reason);

}  // namespace qtune

#include "backends/backend_list.h"

#include "backends/eager/eager_int8.h"
#include "backends/eager/eager_kernels.h"
#include "backends/native/native_int8_kernel.h"
#include "backends/native/native_kernel.h"
#include "backends/onednn/onednn_int8.h"
#include "backends/torch/torch_int8.h"
#include "common/error.h"

namespace qtune {

namespace {

std::string onednn_auto_note() {
  std::string isa;
  onednn_int8_accelerated(&isa);
  return "oneDNN reports int8 acceleration (ISA " + isa + ")";
}

std::string native_int8_auto_note() {
  return "exact native int8 kernels, " + native_int8_isa_description();
}

std::string torch_auto_note() { return "qengine " + torch_int8_engine(); }

// Preference order, one backend a line: a backend runs weight-only layers,
// int8 layers or both; "auto" takes the first that runs a layer. For int8 this
// is onednn where oneDNN has int8 dot products, else native (qtune's exact
// kernels), then torch. Eager, the reference that runs everything, stays last.
std::vector<Backend> builtin_backends() {
  return {
      {"onednn", {}, {onednn_int8_supports, make_onednn_int8_kernel, onednn_auto_note}},
      {"native",
       {native_layer_supports, make_native_kernel, nullptr},
       {native_int8_supports, make_native_int8_kernel, native_int8_auto_note}},
      {"torch", {}, {torch_int8_supports, make_torch_int8_kernel, torch_auto_note}},
      {"eager",
       {eager_supports, make_eager_kernel, nullptr},
       {eager_int8_supports, make_eager_int8_kernel, nullptr}},
  };
}

std::string describe(LayerKind kind, const QuantSpec& spec) {
  return to_string(kind) + " int" + std::to_string(spec.bits) + " " + to_string(spec.scheme);
}

std::string describe(LayerKind kind, const Int8Layer& layer) {
  return to_string(kind) + " int8 " + (layer.input.dynamic ? "dynamic" : "static") + " " +
         (layer.input.is_signed ? "s8" : "u8");
}

bool has_family(const Backend& b, const QuantSpec&) { return b.runs_weight_only(); }
bool has_family(const Backend& b, const Int8Layer&) { return b.runs_int8(); }

template <typename Layer>
const Backend& choose(const std::string& requested, LayerKind kind, const Layer& layer,
                      std::string* reason) {
  std::string why;
  if (requested != "auto") {
    const Backend& b = backend_by_name(requested);
    QT_CHECK(b.supports(kind, layer, &why), "backend '", requested, "' cannot run ",
             describe(kind, layer), ": ", why);
    if (reason) *reason = backend_reason::kRequested;
    return b;
  }
  // The reason lists what was skipped and why, so a trial records why a
  // faster backend did not run. Backends without this layer family are not
  // candidates at all and are left out of it.
  std::string skipped;
  for (const Backend& b : backends()) {
    if (!has_family(b, layer)) continue;
    if (b.supports(kind, layer, &why)) {
      if (reason) {
        *reason = backend_reason::kAuto;
        if (const std::string note = b.auto_note(layer); !note.empty()) *reason += ": " + note;
        if (!skipped.empty())
          *reason += std::string("; ") + backend_reason::kSkipped + " " + skipped;
      }
      return b;
    }
    skipped += (skipped.empty() ? "" : ", ") + b.name + ": " + why;
  }
  QT_ASSERT(false, "no backend runs ", describe(kind, layer), " (eager must run all)");
  throw Error("unreachable");
}

}  // namespace

bool Backend::supports(LayerKind kind, const QuantSpec& spec, std::string* reason) const {
  if (!runs_weight_only()) {
    if (reason) *reason = backend_reason::kNoWeightOnly;
    return false;
  }
  return weight_only.supports(kind, spec, reason);
}

bool Backend::supports(LayerKind kind, const Int8Layer& layer, std::string* reason) const {
  if (!runs_int8()) {
    if (reason) *reason = backend_reason::kNoInt8;
    return false;
  }
  return int8.supports(kind, layer, reason);
}

LayerKernelPtr Backend::make_kernel(LayerKind kind, QuantizedWeight w,
                                    std::optional<at::Tensor> bias,
                                    const ConvGeometry& geometry) const {
  QT_CHECK(runs_weight_only(), "backend '", name, "' ", backend_reason::kNoWeightOnly);
  return weight_only.make_kernel(kind, std::move(w), std::move(bias), geometry);
}

LayerKernelPtr Backend::make_kernel(LayerKind kind, Int8Layer layer,
                                    const ConvGeometry& geometry) const {
  QT_CHECK(runs_int8(), "backend '", name, "' ", backend_reason::kNoInt8);
  return int8.make_kernel(kind, std::move(layer), geometry);
}

const std::vector<Backend>& backends() {
  static const std::vector<Backend> list = builtin_backends();
  return list;
}

std::vector<std::string> backend_names() {
  std::vector<std::string> names;
  for (const Backend& b : backends()) names.push_back(b.name);
  return names;
}

const Backend& backend_by_name(const std::string& name) {
  for (const Backend& b : backends())
    if (b.name == name) return b;
  std::string known;
  for (const std::string& n : backend_names()) known += (known.empty() ? "" : ", ") + n;
  throw Error("unknown backend '" + name + "': expected auto or one of " + known);
}

const Backend& choose_backend(const std::string& requested, LayerKind kind, const QuantSpec& spec,
                              std::string* reason) {
  return choose(requested, kind, spec, reason);
}

const Backend& choose_backend(const std::string& requested, LayerKind kind, const Int8Layer& layer,
                              std::string* reason) {
  return choose(requested, kind, layer, reason);
}

}  // namespace qtune

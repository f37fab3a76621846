#include "backends/backend.h"

#include "backends/eager/eager_kernels.h"
#include "backends/native/native_kernel.h"
#include "common/error.h"

namespace qtune {

namespace {

// Preference order: the most specialised backend first. A new backend is
// listed here, before eager, which supports everything and must stay last.
std::vector<Backend> builtin_backends() {
  std::vector<Backend> list;
  list.push_back(Backend{"native", native_layer_supports, make_native_kernel});
  list.push_back(Backend{"eager", eager_supports, make_eager_kernel});
  return list;
}

std::string known_names() {
  std::string names;
  for (const Backend& b : backends()) names += (names.empty() ? "" : ", ") + b.name;
  return names;
}

std::string describe(LayerKind kind, const QuantSpec& spec) {
  return to_string(kind) + " int" + std::to_string(spec.bits) + " " + to_string(spec.scheme);
}

}  // namespace

const std::vector<Backend>& backends() {
  static const std::vector<Backend> list = builtin_backends();
  return list;
}

const Backend& backend_by_name(const std::string& name) {
  for (const Backend& b : backends())
    if (b.name == name) return b;
  throw Error("unknown backend '" + name + "': expected auto or one of " + known_names());
}

const Backend& choose_backend(const std::string& requested, LayerKind kind, const QuantSpec& spec,
                              std::string* reason) {
  std::string why;
  if (requested != "auto") {
    const Backend& b = backend_by_name(requested);
    QT_CHECK(b.supports(kind, spec, &why), "backend '", requested, "' cannot run ",
             describe(kind, spec), ": ", why);
    if (reason) *reason = "requested";
    return b;
  }
  // The reason lists what was skipped and why, so a trial records why a
  // faster backend did not run.
  std::string skipped;
  for (const Backend& b : backends()) {
    if (b.supports(kind, spec, &why)) {
      if (reason) *reason = "auto" + (skipped.empty() ? "" : "; skipped " + skipped);
      return b;
    }
    skipped += (skipped.empty() ? "" : ", ") + b.name + ": " + why;
  }
  QT_ASSERT(false, "no backend supports ", describe(kind, spec), " (eager must support all)");
  throw Error("unreachable");
}

}  // namespace qtune

#include "tuner/run_signature.h"

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "common/error.h"

namespace qtune {

std::string tensors_hash(const std::vector<at::Tensor>& tensors) {
  Fnv1a64 h;
  for (const at::Tensor& t : tensors) {
    if (!t.defined()) {
      h.update("undefined", 9);
      continue;
    }
    const std::string header = std::string(c10::toString(t.scalar_type())) + "[";
    h.update(header.data(), header.size());
    for (const int64_t d : t.sizes()) h.update(&d, sizeof d);
    const at::Tensor c = t.contiguous();
    h.update(c.data_ptr(), c.numel() * c.element_size());
  }
  return h.hex();
}

std::string signature_change(const Json& stored, const Json& current) {
  std::string out;
  const auto check = [&](const char* key, const char* what) {
    const std::string was = stored.is_object() ? stored.value(key, std::string()) : "";
    const std::string now = current.is_object() ? current.value(key, std::string()) : "";
    if (was.empty() || now.empty() || was == now) return;
    out += std::string(out.empty() ? "" : "; ") + what + " changed (content hash " + now +
           " now, " + was + " when the run started)";
  };
  check("model_hash", "the model's weights");
  check("data_hash", "the data");
  return out;
}

}  // namespace qtune

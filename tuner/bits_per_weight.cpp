#include "tuner/bits_per_weight.h"

namespace qtune {

int64_t layer_weight_bytes(const LayerSlot& slot) {
  int64_t bytes = slot.kernel()->storage_bytes();
  // Every kernel stores the bias as given (fp32), next to its weight.
  if (slot.bias()) bytes -= slot.bias()->numel() * slot.bias()->element_size();
  return bytes;
}

std::optional<double> bits_per_weight(const Model& model) {
  int64_t bytes = 0, weights = 0;
  for (const LayerSlot* slot : model.layers()) {
    if (!slot->quantized()) continue;
    bytes += layer_weight_bytes(*slot);
    weights += slot->weight_numel();
  }
  if (weights == 0) return std::nullopt;
  return static_cast<double>(bytes) * 8.0 / static_cast<double>(weights);
}

}  // namespace qtune

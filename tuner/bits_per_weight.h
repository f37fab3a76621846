// Bits per weight, as constraints.max_bits_per_weight reads it: the bytes the
// quantized layers store for their weights (codes, scales, zero points, and
// their compressed forms or g_idx when present; not the bias) x 8 over those
// layers' weight count. Layers left in fp32 are outside it. The same stored
// layout as a trial's size_bytes (LayerKernel::storage_bytes), bias taken out.
#pragma once

#include <cstdint>
#include <optional>

#include "models/model.h"

namespace qtune {

/// Stored bytes of the layer's weight: its kernel's storage less the bias.
int64_t layer_weight_bytes(const LayerSlot& slot);

/// Over the model's quantized layers; nullopt when none is quantized.
std::optional<double> bits_per_weight(const Model& model);

}  // namespace qtune

// qtune's stored form of a weight-only layer (QuantizedWeight) <-> the native
// runtime form (PackedWeight, packed_weight.h). repack() runs once when a
// layer is installed; unpack() gives the stored codes back bit-exactly, so a
// layer that keeps only the PackedWeight plus the stored parameters (scales,
// zero points, g_idx, double-quant params: fp16 d cannot give them back) can
// still be saved.
#pragma once

#include <string>

#include "backends/native/packed_weight.h"
#include "quant/quantized_weight.h"

namespace qtune::native {

/// Reasons native_supports() gives, stable (recorded with each layer).
inline constexpr const char* kReasonGroupDim0 = "groups along output channels (group_dim 0)";

/// True when repack() takes weights of `spec`; otherwise false with `reason` set.
/// Every bits 1..8, sym/asym/float zero, per-tensor/channel/group, g_idx,
/// double quant, nf4/fp4 run; group_dim 0 does not.
bool native_supports(const QuantSpec& spec, std::string* reason = nullptr);

/// The runtime form of `w` (spec must be native_supports'ed; the matrix is
/// [rows, cols] of the original shape, Conv2d flattened to [out, in*kh*kw]).
/// Codes follow packed_weight.h's table; column_of is set for g_idx (columns
/// sorted by group, each group padded to whole blocks) and for groups that are
/// not a multiple of kBlock (each group padded to whole blocks).
PackedWeight repack(const QuantizedWeight& w);

/// `meta` (spec, shape, scales, zero points, g_idx, double-quant params; its
/// `packed` may be undefined) with `packed` rebuilt from `p`: equal to the
/// QuantizedWeight `p` was repacked from.
QuantizedWeight unpack(const PackedWeight& p, const QuantizedWeight& meta);

}  // namespace qtune::native

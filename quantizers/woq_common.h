// What every weight-only algorithm (RTN, GPTQ, AWQ, ...) shares: INC's common
// WOQ parameters, their translation into a QuantSpec, and installing a
// quantized weight into a model's layer on the chosen backend.
#pragma once

#include <functional>
#include <vector>

#include "quant/quantized_weight.h"
#include "quantizers/quantizer.h"

namespace qtune {

/// bits (1..8, 4), group_size (-1 per channel or >= 1, 32), scheme ("sym"|"asym", sym),
/// use_full_range (false), dtype ("int" | "nf4" | "fp4"; "fp32" keeps the layer
/// unquantized, as INC's lm_head override does).
std::vector<ParamSpec> woq_param_specs();

/// INC's group_dim (1: groups along input channels, the default; 0: along
/// output channels) and double quantization of the scales: use_double_quant
/// (false), double_quant_bits (8), double_quant_use_sym (false),
/// double_quant_group_size (256). Algorithms add these to their schema.
std::vector<ParamSpec> woq_layout_param_specs();

/// The QuantSpec of validated WOQ params. use_full_range is ignored for asym, as in INC;
/// nf4/fp4 force bits 4 and sym (INC ignores both for them). Keys of
/// woq_layout_param_specs() are optional (defaults when absent).
QuantSpec woq_spec(const Json& params);

/// Throws qtune::Error naming the layer if its weight has NaN or infinite values.
void check_finite_weight(const LayerSlot& slot);

/// Makes `w` the layer's kernel on the backend `backend` ("auto" or a name)
/// picks, and fills the report (quantized, backend, reason).
void install_quantized(LayerSlot& slot, QuantizedWeight w, const std::string& backend,
                       LayerReport* report);

/// Gives the layer back its fp32 kernel (the layer stays unquantized in this trial).
void install_fp32(LayerSlot& slot, LayerReport* report);

/// The walk of every layer-by-layer (data-free) method: each layer the config
/// excludes gets its fp32 kernel back; each other layer has its weight checked
/// finite and is handed to `quantize_layer` with its resolved params and its
/// report (name, kind and params filled in). One report per layer, in order.
/// Layers are work units (models/work_units.h): `quantize_layer` may run on
/// several threads at once, each call with its own slot and report.
using QuantizeLayerFn =
    std::function<void(LayerSlot& slot, const Json& params, LayerReport* report)>;
std::vector<LayerReport> quantize_each_layer(Model& model, const QuantConfig& config,
                                             const QuantizeLayerFn& quantize_layer);

}  // namespace qtune

// What the int8 algorithms (static, dynamic, SmoothQuant, QAT) share: INC's
// int8 parameters (StaticQuantConfig names and defaults), the s8 weight, the
// block-by-block static calibration, and installing an Int8Layer on the int8
// backend the config asks for.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "backends/int8.h"
#include "quant/observer.h"
#include "quantizers/blockwise.h"
#include "quantizers/quantizer.h"

namespace qtune {

/// dtype ("int8"; "fp32" keeps the layer, INC's set_local with fp32 dtypes),
/// w_granularity ("per_channel" | "per_tensor", per_channel), w_sym (true only: the
/// int8 kernels take s8 symmetric weights, as IPEX forces), act_sym (false: u8
/// asymmetric inputs; true: s8 symmetric). With `static_activations` also
/// act_algo (observer name, "minmax") and percentile (99.999, act_algo percentile).
std::vector<ParamSpec> int8_param_specs(bool static_activations);

/// The s8 symmetric weight of validated int8 params (w_granularity).
QuantizedWeight int8_weight(const at::Tensor& w, const Json& params);

/// The activation observer of validated static int8 params.
ObserverOptions int8_observer_options(const Json& params);

/// A static ActivationQuant from observed parameters.
ActivationQuant static_activation(const ActParams& p);

/// Makes `layer` the slot's kernel on the int8 backend `backend` ("auto" or a
/// name) chooses, and fills the report (quantized, backend, reason).
void install_int8(LayerSlot& slot, Int8Layer layer, const std::string& backend,
                  LayerReport* report);

using LayerReports = std::map<std::string, LayerReport>;

/// `reports` in the model's layer order (every layer must have one).
std::vector<LayerReport> ordered_reports(Model& model, LayerReports reports);

/// Static int8 of a whole model. Block by block (each block sees the already
/// quantized output of the ones before it): `prepare(block, inputs)`, if set,
/// runs first (SmoothQuant folds its scales there); then every layer of the
/// block that `config` quantizes gets an observer on its input over the
/// calibration batches and is installed as int8; the others get fp32 kernels.
/// Layers in no block (a language model's lm_head) are observed on whole
/// forward passes afterwards.
std::vector<LayerReport> static_int8_model(
    Model& model, const QuantConfig& config, const CalibrationData& calibration,
    const std::function<void(int64_t block, const BlockInputs& inputs)>& prepare = nullptr);

}  // namespace qtune

// What a run measured besides its config: the model's weights and the task
// data, as content hashes. `--resume` refuses a run whose model or data
// changed since (its finished trials measured something else).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/content_hash.h"
#include "common/json.h"
#include "models/weight_files.h"

namespace qtune {

/// Each tensor's dtype, shape and (contiguous) bytes, in order.
std::string tensors_hash(const std::vector<at::Tensor>& tensors);

/// One line saying what differs between a stored signature and the current
/// one ({"model_hash","data_hash"}), e.g. "the model's weights changed (content
/// hash 1234... now, 5678... when the run started)"; empty when nothing
/// differs or either side does not know a hash.
std::string signature_change(const Json& stored, const Json& current);

}  // namespace qtune

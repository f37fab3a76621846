// Block-by-block calibration, shared by the algorithms that need layer inputs
// (GPTQ, AWQ, TEQ, AutoRound, SmoothQuant, static PTQ).
//
// The model's block view (Model::num_blocks/block_input/run_block) turns a
// decoder into a chain of blocks and any other model into one block. Blocks are
// visited in order; each sees the inputs produced by the blocks before it
// *after* they were quantized, so a block corrects for the error upstream (as
// GPTQ and AutoRound do) and only one block's activations live at a time.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "models/model.h"
#include "quantizers/quantizer.h"

namespace qtune {

/// The inputs of one block, one tensor per calibration batch.
using BlockInputs = std::vector<at::Tensor>;

/// Calls `visit(block, inputs)` for every block in order; `visit` may quantize
/// the block's layers (or fold scales) in place. The next block's inputs are
/// then computed by running the block as `visit` left it.
void for_each_block(Model& model, const CalibrationData& calibration,
                    const std::function<void(int64_t block, const BlockInputs& inputs)>& visit);

/// Runs block `block` on `inputs` and returns what each named layer received
/// (one tensor per batch and layer, in batch order). Layers not in the block are
/// an error. The capture hooks are removed again, also on error.
std::map<std::string, std::vector<at::Tensor>> capture_layer_inputs(
    Model& model, int64_t block, const BlockInputs& inputs, const std::vector<std::string>& layers);

/// The block's outputs for `inputs` as the block is now.
BlockInputs run_block(const Model& model, int64_t block, const BlockInputs& inputs);

}  // namespace qtune

#include "quantizers/blockwise.h"

#include <ATen/core/grad_mode.h>

#include "common/error.h"
#include "common/malloc_tuning.h"

namespace qtune {

BlockInputs run_block(const Model& model, int64_t block, const BlockInputs& inputs) {
  at::NoGradGuard no_grad;
  BlockInputs out;
  out.reserve(inputs.size());
  for (const at::Tensor& h : inputs) out.push_back(model.run_block(block, h));
  return out;
}

void for_each_block(Model& model, const CalibrationData& calibration,
                    const std::function<void(int64_t block, const BlockInputs& inputs)>& visit) {
  QT_CHECK(!calibration.batches.empty(), "model ", model.spec(),
           ": block-wise calibration needs at least one batch");
  BlockInputs hidden;
  {
    at::NoGradGuard no_grad;
    for (const at::Tensor& b : calibration.batches) hidden.push_back(model.block_input(b));
  }
  // What the algorithm's checks before the blocks freed.
  release_freed_memory();
  const int64_t blocks = model.num_blocks();
  for (int64_t i = 0; i < blocks; ++i) {
    visit(i, hidden);
    // The last block's outputs are nobody's inputs.
    if (i + 1 < blocks) hidden = run_block(model, i, hidden);
    release_freed_memory();
  }
}

namespace {

/// Clears the capture hooks it set, however the scope ends.
class CaptureScope {
 public:
  explicit CaptureScope(std::vector<LayerSlot*> slots) : slots_(std::move(slots)) {}
  ~CaptureScope() {
    for (LayerSlot* s : slots_) s->clear_capture();
  }

 private:
  std::vector<LayerSlot*> slots_;
};

}  // namespace

std::map<std::string, std::vector<at::Tensor>> capture_layer_inputs(
    Model& model, int64_t block, const BlockInputs& inputs,
    const std::vector<std::string>& layers) {
  std::map<std::string, std::vector<at::Tensor>> captured;
  std::vector<LayerSlot*> slots;
  const std::vector<LayerSlot*> in_block = model.block_layers(block);
  for (const std::string& name : layers) {
    LayerSlot* found = nullptr;
    for (LayerSlot* s : in_block)
      if (s->name() == name) found = s;
    QT_CHECK(found != nullptr, "model ", model.spec(), ": layer '", name, "' is not in block ",
             block);
    auto& sink = captured[name];
    // Detached copies: the model may reuse or free its buffers after the forward.
    found->set_capture([&sink](const at::Tensor& x) { sink.push_back(x.detach().clone()); });
    slots.push_back(found);
  }
  CaptureScope scope(slots);
  run_block(model, block, inputs);
  return captured;
}

}  // namespace qtune

// The model adapter (DESIGN.md layer 3): what quantizers and the tuner need
// from any model — its quantizable layers, a forward pass, a way to capture a
// layer's inputs during calibration, and a way to swap a layer's kernel.
// Built-in CNNs, language models (block by block) and TorchScript files all
// come in through this interface.
#pragma once

#include <ATen/ATen.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backends/layer_kernel.h"

namespace qtune {

/// One quantizable layer of a model: a named slot holding the current kernel.
class LayerSlot {
 public:
  LayerSlot(std::string name, LayerKind kind, at::Tensor weight, std::optional<at::Tensor> bias,
            ConvGeometry geometry = {});

  const std::string& name() const { return name_; }
  LayerKind kind() const { return kind_; }
  const ConvGeometry& geometry() const { return geometry_; }
  /// A stand-in for the weight of a layer loaded in quantized form: its shape
  /// without values (a meta tensor). A model built with it holds the values in
  /// the quantized kernel only, so a loaded int4 model does not also keep its
  /// fp32 weights; weight() and resident_weight() dequantize on demand.
  static at::Tensor weight_held_by_kernel(at::IntArrayRef shape);
  /// The original weight in fp32 and the bias (kept so that every trial starts
  /// from them). A weight held in 16 bits (ModelOptions::weights_dtype) is
  /// widened into a fresh tensor on each call: exact, so quantizers see the
  /// same numbers whichever dtype holds it. A weight held by the kernel is
  /// dequantized from it on each call.
  at::Tensor weight() const;
  /// The weight as held in memory: fp32, or bf16/fp16 (possibly a view of a
  /// checkpoint's file mapping, shared by every process that maps it); one
  /// held by the kernel is dequantized from it on each call.
  at::Tensor resident_weight() const;
  /// The weight's shape, without touching its values.
  at::IntArrayRef weight_sizes() const { return weight_.sizes(); }
  int64_t weight_numel() const { return weight_.numel(); }
  /// False when the weight's values live in the quantized kernel only.
  bool holds_weight_values() const { return !weight_.is_meta(); }
  /// Drops this process's resident pages of a weight that is a view of a
  /// checkpoint's file mapping (release_mapped_pages): once a quantized kernel
  /// replaced it, or after a pass that only checked it. Reading it again
  /// faults the same bytes back in from the page cache. Otherwise a no-op.
  void release_weight_pages() const;
  const std::optional<at::Tensor>& bias() const { return bias_; }

  /// Replaces the weight (and bias), e.g. after AWQ/SmoothQuant folded scales
  /// into it, held in fp32 from then on (scaled weights are not rounded back
  /// to 16 bits), and gives the layer its fp32 kernel on it. Replacing,
  /// never writing in place, keeps clones that share the old tensors untouched.
  void set_weight(at::Tensor weight, std::optional<at::Tensor> bias);

  /// A per-input-channel multiplier applied to the input before the kernel (and
  /// before the capture hook), when no preceding op could absorb a scaling
  /// (AWQ/SmoothQuant's "inserted multiply"). Undefined = none. Saved with the model.
  const at::Tensor& input_multiplier() const { return input_multiplier_; }
  void set_input_multiplier(at::Tensor m) { input_multiplier_ = std::move(m); }

  const LayerKernelPtr& kernel() const { return kernel_; }
  /// Replaces the kernel. A weight held by the outgoing kernel is dequantized
  /// into the slot first, so weight() stays what was loaded (a loaded model
  /// quantized again starts from its loaded weights, as before a reload).
  void set_kernel(LayerKernelPtr k);
  bool quantized() const;  ///< kernel is not the fp32 one

  /// Called with the layer's input on every forward while set (calibration).
  using Capture = std::function<void(const at::Tensor& input)>;
  void set_capture(Capture c) { capture_ = std::move(c); }
  void clear_capture() { capture_ = nullptr; }

  at::Tensor operator()(const at::Tensor& x) const;
  /// relu((*this)(x)), fused into the kernel where its backend can.
  at::Tensor forward_relu(const at::Tensor& x) const;

 private:
  /// x times the input multiplier (if any), after the capture hook saw it.
  at::Tensor kernel_input(const at::Tensor& x) const;

  std::string name_;
  LayerKind kind_;
  at::Tensor weight_;
  std::optional<at::Tensor> bias_;
  ConvGeometry geometry_;
  at::Tensor input_multiplier_;
  LayerKernelPtr kernel_;
  Capture capture_;
};

/// Layers that read the same input, and what produces that input. AWQ and
/// SmoothQuant multiply the layers' weights by per-input-channel scales s and
/// divide the producer's output by s, so the fp32 function is unchanged.
struct InputScaleGroup {
  /// A layer name (its output channels are divided), the name of an extra
  /// tensor the model knows how to scale (an RMSNorm weight), or "" when nothing
  /// can absorb the scaling (an input multiplier is inserted instead).
  std::string producer;
  std::vector<std::string> layers;  ///< layer names sharing the input, in forward order
};

class Model {
 public:
  virtual ~Model() = default;
  /// The spec this model was built from ("builtin:fmnist-cnn"); saved in qconfig.json.
  virtual std::string spec() const = 0;
  /// Runs the model on a batch; returns logits.
  virtual at::Tensor forward(const at::Tensor& input) const = 0;
  /// Quantizable layers in forward order.
  virtual std::vector<LayerSlot*> layers() = 0;
  std::vector<const LayerSlot*> layers() const;
  /// Layer by name, or qtune::Error naming it.
  LayerSlot& layer(const std::string& name);
  /// Tensors that are not part of a quantizable layer (embeddings, norms), by name.
  virtual std::map<std::string, at::Tensor> extra_tensors() const { return {}; }
  /// The dtype its float tensors had where it was loaded from (a checkpoint's
  /// bf16/fp16/fp32; compute is fp32 regardless): a saved copy stores its
  /// unquantized tensors in it again.
  virtual at::ScalarType source_dtype() const { return at::kFloat; }
  /// Writes into `dir` the files besides its tensors that rebuilding it
  /// elsewhere needs (a language model: config.json, the tokenizer files,
  /// generation_config.json). Default: none.
  virtual void save_files(const std::filesystem::path& dir) const { (void)dir; }
  /// Layers kept in fp32 unless a config's override names them (INC leaves a
  /// language model's lm_head unquantized by default).
  virtual std::vector<std::string> default_fp32_layers() const { return {}; }
  /// A deep-enough copy: layer slots are new (kernels are shared, they are immutable),
  /// so quantizing the copy leaves this model untouched.
  virtual std::unique_ptr<Model> clone() const = 0;

  // ---- Block structure, for block-wise algorithms (GPTQ, AWQ, TEQ, AutoRound,
  // SmoothQuant): quantize one block, then feed its quantized output to the next.
  // The defaults describe any model as one block whose input is the batch.

  virtual int64_t num_blocks() const { return 1; }
  /// The layers of block `block`, in forward order.
  virtual std::vector<LayerSlot*> block_layers(int64_t block);
  /// The input of block 0 for a batch (for a decoder: the token embeddings).
  virtual at::Tensor block_input(const at::Tensor& batch) const { return batch; }
  /// Runs block `block` on its input, returning the next block's input (the
  /// last block's output is the logits for the default one-block view).
  virtual at::Tensor run_block(int64_t block, const at::Tensor& hidden) const;
  /// The groups of block `block` whose shared input scaling can be folded.
  /// Default: each layer alone with producer "" (an inserted multiplier).
  virtual std::vector<InputScaleGroup> input_scale_groups(int64_t block);
  /// Folds per-input-channel `scales` [in] into `group`: the layers' weights are
  /// multiplied by them (column-wise; per input channel for Conv2d) and the
  /// producer's output is divided by them. Afterwards the layers run fp32
  /// kernels on the new weights. The model's fp32 output is unchanged.
  void fold_input_scales(const InputScaleGroup& group, const at::Tensor& scales);

 protected:
  /// Divides the output of a producer that is not a layer (an RMSNorm weight);
  /// models with such producers override this. Default: qtune::Error.
  virtual void scale_producer_output(const std::string& producer, const at::Tensor& inv_scales);
};

using ModelPtr = std::unique_ptr<Model>;

}  // namespace qtune

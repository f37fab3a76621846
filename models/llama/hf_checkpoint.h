// Hugging Face checkpoint directories of the Llama family:
//   config.json + model.safetensors, or
//   config.json + model.safetensors.index.json + model-0000k-of-0000n.safetensors
// plus tokenizer files (tokenizer.json / tokenizer.model, ...), copied on save.
// Reading maps the safetensors files; the model holds the weights in fp32, or
// keeps bf16/fp16 ones as views of the mapping (ModelOptions::weights_dtype). Every problem is a
// qtune::Error naming the file and the tensor.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "models/llama/llama_config.h"
#include "models/llama/llama_model.h"

namespace qtune {

/// config.json's torch_dtype ("float32", "float16", "bfloat16") as an ATen
/// dtype, and back ("" for any other dtype).
at::ScalarType dtype_of_torch_dtype(const std::string& torch_dtype);
std::string torch_dtype_name(at::ScalarType dtype);

/// The files besides the weights that a checkpoint folder holds, copied
/// wherever a model is saved: the tokenizer and the generation defaults.
const std::vector<std::string>& hf_tokenizer_files();

struct HfCheckpoint {
  /// torch_dtype is that of the stored embeddings, whatever config.json claims:
  /// a saved copy writes the unquantized tensors back in it.
  LlamaConfig config;
  /// Every tensor the config needs, as stored (mapped, original dtype).
  std::map<std::string, at::Tensor> tensors;
};

/// True when `dir` is a directory holding a config.json.
bool is_hf_checkpoint_dir(const std::filesystem::path& dir);

/// The `quant_method` of config.json's quantization_config ("gptq", "awq", ...),
/// or "" when the checkpoint is not pre-quantized. Such a checkpoint's layers
/// are not float weights: storage/formats/hf_quantized_import.h loads it.
std::string hf_quant_method(const std::filesystem::path& dir);

/// Every tensor of the checkpoint's weights (model.safetensors, or the shards
/// an index names, validated as below), mapped. `source` gets the file to name
/// in errors (the single file or the index).
std::map<std::string, at::Tensor> read_hf_tensors(const std::filesystem::path& dir,
                                                  std::string* source = nullptr);

/// The tensor names a model with `config` needs (lm_head only when untied).
std::vector<std::string> llama_tensor_names(const LlamaConfig& config);

/// Reads config.json and the weights. With an index, the weight map is
/// validated: file names stay inside `dir`, every file exists, every tensor is
/// in the file it names, and no tensor the config needs is missing.
HfCheckpoint read_hf_checkpoint(const std::filesystem::path& dir);

/// read_hf_checkpoint, then the model, its weights held in `weights_dtype`
/// (LlamaModel). `spec` names it ("hf:DIR").
std::unique_ptr<LlamaModel> load_hf_model(const std::filesystem::path& dir, const std::string& spec,
                                          at::ScalarType weights_dtype = at::kFloat);

/// Writes into `dir` config.json -- `from`'s own file with torch_dtype set to
/// config's (fields qtune does not model, such as pad_token_id, kept), or
/// `config` written from scratch when `from` is empty or has none -- and copies
/// the hf_tokenizer_files() present in `from`.
void write_hf_side_files(const std::filesystem::path& dir, const LlamaConfig& config,
                         const std::filesystem::path& from);

struct HfSaveOptions {
  int shards = 1;  ///< > 1: model-0000k-of-0000n.safetensors + model.safetensors.index.json
  /// hf_tokenizer_files() present here are copied.
  std::filesystem::path tokenizer_from;
};

/// Writes config.json and the tensors (as given: fp32 stays fp32) into `dir`,
/// creating it.
void save_hf_checkpoint(const std::filesystem::path& dir, const LlamaConfig& config,
                        const std::map<std::string, at::Tensor>& tensors,
                        const HfSaveOptions& options = {});
/// The model's config and current fp32 tensors (LlamaModel::hf_tensors).
void save_hf_model(const std::filesystem::path& dir, const LlamaModel& model,
                   const HfSaveOptions& options = {});

}  // namespace qtune

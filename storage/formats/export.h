// Export of a quantized model to the formats inference runtimes load
// (DESIGN.md layer 5, storage/formats/). One table of formats (export.cpp);
// each format is one exporter file that writes its container through that
// container's one writer (safetensors: models/safetensors.h; GGUF:
// storage/formats/gguf_writer.h).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "models/model.h"

namespace qtune {

struct ExportOptions {
  /// hf-gptq: "gptq" (v1: stored zero = zero - 1) or "gptq_v2" (zero as is).
  std::string checkpoint_format = "gptq";
  /// gguf: re-quantize layers whose codes no ggml type carries as they are
  /// (otherwise such a layer is refused); every re-quantized layer is reported.
  bool requantize = false;
};

struct ExportInput {
  const Model* model = nullptr;  ///< a loaded model (a saved one: quantized
                                 ///< layers expose LayerKernel::quantized_weight())
  /// Holds the language model's config.json and tokenizer files
  /// (tokenizer.json or tokenizer.model, tokenizer_config.json,
  /// special_tokens_map.json, generation_config.json when present).
  std::filesystem::path files_dir;
  ExportOptions options;
};

struct ExportReport {
  std::filesystem::path written;  ///< the directory or file written
  std::vector<std::string>
      notes;  ///< what changed on the way (fp16 scale rounding, re-quantized layers)
};

/// One exporter: writes `in` as its format at `out` (a directory, or a file
/// for gguf), or throws qtune::Error with one line naming the layer, the
/// property and what the format needs.
using ExportFn = ExportReport (*)(const ExportInput& in, const std::filesystem::path& out);

struct ExportFormat {
  const char* name;         ///< "hf-gptq", "hf-awq", "gguf"
  const char* description;  ///< one line for --help
  bool writes_file;         ///< true: `out` is a file (gguf); false: a directory
  ExportFn run;
};

/// Every format, in the order --help lists them.
const std::vector<ExportFormat>& export_formats();
/// The format called `name`, or qtune::Error listing the known ones.
const ExportFormat& find_export_format(const std::string& name);

}  // namespace qtune

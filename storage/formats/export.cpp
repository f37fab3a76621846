#include "storage/formats/export.h"

#include "common/error.h"
#include "storage/formats/gguf_export.h"
#include "storage/formats/hf_exporters.h"

namespace qtune {

const std::vector<ExportFormat>& export_formats() {
  static const std::vector<ExportFormat> all = {
      {"hf-gptq",
       "Hugging Face GPTQ checkpoint (AutoGPTQ/GPTQModel layout; transformers, vLLM): 2/3/4/8-bit",
       false, export_hf_gptq},
      {"hf-awq", "Hugging Face AWQ checkpoint (AutoAWQ GEMM layout; transformers, vLLM): 4-bit",
       false, export_hf_awq},
      {"gguf", "llama.cpp's GGUF file: Q8_0/Q4_0/Q4_1 carrying the codes, F32/F16 for the rest",
       true, export_gguf},
  };
  return all;
}

const ExportFormat& find_export_format(const std::string& name) {
  std::string known;
  for (const ExportFormat& f : export_formats()) {
    if (name == f.name) return f;
    known += (known.empty() ? "" : ", ") + std::string(f.name);
  }
  throw Error("unknown export format '" + name + "' (known: " + (known.empty() ? "none" : known) +
              ")");
}

}  // namespace qtune

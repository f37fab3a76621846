// The Hugging Face quantized-checkpoint exporters (entries of export.cpp's table).
#pragma once

#include <filesystem>

#include "storage/formats/export.h"

namespace qtune {

/// hf-gptq: hf_gptq_layout.h; in.options.checkpoint_format picks v1 or v2.
ExportReport export_hf_gptq(const ExportInput& in, const std::filesystem::path& out);
/// hf-awq: hf_awq_layout.h.
ExportReport export_hf_awq(const ExportInput& in, const std::filesystem::path& out);

}  // namespace qtune

// What a built-in model's trained weights depend on, written beside them.
//
// Training is deterministic (fixed seeds, one thread, a fixed sample order),
// but the bits still depend on which kernels the machine runs: oneDNN picks
// its convolution kernels by ISA (the CNN's weights differ between AVX-512
// and AVX2-only CPUs) and OpenBLAS picks its GEMM kernel by CPU type unless
// OPENBLAS_CORETYPE fixes it (every model). The record names both, so that a
// user whose weights hash differently from README's can see why.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/json.h"

namespace qtune {

/// Where the record of weights at `location` lives: FOLDER/training.json for
/// a model folder, FILE.training.json beside a weight file.
std::filesystem::path training_record_path(const std::filesystem::path& location);

/// {"onednn_isa", "openblas_core", "aten_cpu_capability"} of this process,
/// "unknown" where a library does not say.
Json training_environment();

/// Writes {"spec", "weights_hash" (files_hash of `weight_files`), "trained_with":
/// training_environment()} to `record` atomically.
void write_training_record(const std::filesystem::path& record, const std::string& spec,
                           const std::vector<std::filesystem::path>& weight_files);

/// The record, or nullopt when there is none (weights cached by an older qtune).
/// A record that is not JSON -> qtune::Error naming it.
std::optional<Json> read_training_record(const std::filesystem::path& record);

}  // namespace qtune

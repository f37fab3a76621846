// load_task_data with the user's data files (models/data_options.h): the
// entry the tuner, `qtune quantize` and `qtune eval` share, so that all three
// read the same tokens for the same options.
#pragma once

#include <filesystem>
#include <string>

#include "models/builtin.h"
#include "models/data_options.h"

namespace qtune {

/// load_task_data(spec, ...) with `data` in place of the built-in text where
/// it names files (models/llama/lm_task_data.h says how they are read), and
/// for a classifier `images` in place of the Fashion-MNIST splits (the same
/// seeded draw of calibration rows; the first eval_samples images, <= 0 = all).
/// Text files for a classifier, or image files for a language model -> qtune::Error.
TaskData load_task_data(const std::string& spec, int64_t calibration_samples, int64_t eval_samples,
                        uint64_t seed, const std::filesystem::path& cache_dir,
                        const std::filesystem::path& files_dir, const LmDataOptions& data,
                        const ImageDataOptions& images = {});

}  // namespace qtune

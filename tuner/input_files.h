// The files a tuning run reads on every rank -- the model's weights, config
// and tokenizer, a built-in model's cached weights, the user's calibration and
// evaluation files -- and the same run pointed at copies of them under another
// folder. The MPI broadcast (tuner/input_broadcast.h) sends the first to nodes
// that lack a shared filesystem and runs the second there.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "tuner/tuning_config.h"

namespace qtune {

struct InputFile {
  std::filesystem::path source;  ///< where this rank reads it
  std::string relative;          ///< where it goes under the receiving node's folder
};

/// The inputs of a run: the config to run, and the cache of built-in models it reads.
struct RunInputs {
  TuningConfig config;
  std::filesystem::path cache_dir;
};

/// Every file `inputs` reads besides installed data (the built-in Fashion-MNIST
/// and KJV text, which come with qtune's packages): for a Hugging Face folder
/// its config.json, *.safetensors, index and tokenizer files ("model/NAME");
/// for a built-in model its cache entry, trained here if need be by the caller
/// ("cache/NAME..."); each user data file ("data/K/NAME"). Sorted by relative
/// path. A model spec that names nothing readable -> qtune::Error.
std::vector<InputFile> run_input_files(const RunInputs& inputs);

/// `inputs` reading the files run_input_files() lists from under `root`
/// instead: the model spec, the cache folder and the data paths rewritten.
/// The external evaluation command is left as it is (it names programs,
/// not files qtune reads).
RunInputs relocate_run_inputs(const RunInputs& inputs, const std::filesystem::path& root);

}  // namespace qtune

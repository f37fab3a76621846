#include "tuner/input_files.h"

#include <algorithm>

#include "common/error.h"
#include "models/builtin.h"
#include "models/llama/hf_checkpoint.h"
#include "models/torchscript/torchscript_model.h"
#include "models/training_record.h"

namespace qtune {

namespace fs = std::filesystem;

namespace {

constexpr const char* kModelFolder = "model";
constexpr const char* kCacheFolder = "cache";
constexpr const char* kDataFolder = "data";

// The Hugging Face folder's files that loading a checkpoint reads.
bool is_checkpoint_file(const fs::path& p) {
  const std::string name = p.filename().string();
  if (p.extension() == ".safetensors" || name == "config.json" ||
      name == "model.safetensors.index.json")
    return true;
  const auto& tok = hf_tokenizer_files();
  return std::find(tok.begin(), tok.end(), name) != tok.end();
}

const BuiltinInfo* find_builtin_info(const std::vector<BuiltinInfo>& infos,
                                     const std::string& spec) {
  for (const BuiltinInfo& info : infos)
    if (info.spec == spec) return &info;
  return nullptr;
}

fs::path cache_dir_of(const RunInputs& inputs) {
  return inputs.cache_dir.empty() ? default_cache_dir() : inputs.cache_dir;
}

// The user's data files in a fixed order, so that every rank numbers them alike.
std::vector<std::string*> data_paths(TuningConfig& c) {
  std::vector<std::string*> paths{
      &c.lm_data.calibration_file,      &c.lm_data.eval_file,      &c.image_data.calibration_images,
      &c.image_data.calibration_labels, &c.image_data.eval_images, &c.image_data.eval_labels};
  paths.erase(
      std::remove_if(paths.begin(), paths.end(), [](const std::string* p) { return p->empty(); }),
      paths.end());
  return paths;
}

std::string data_name(size_t index, const std::string& path) {
  // A folder per file: two data files may share a name, and the name of a copy
  // is the name of the original (relocating twice changes nothing).
  return std::string(kDataFolder) + "/" + std::to_string(index) + "/" +
         fs::path(path).filename().string();
}

}  // namespace

std::vector<InputFile> run_input_files(const RunInputs& inputs) {
  std::vector<InputFile> files;
  const std::string& spec = inputs.config.model;
  const fs::path cache_dir = cache_dir_of(inputs);
  std::error_code ec;
  const std::vector<BuiltinInfo> builtins = list_builtin_models(cache_dir);
  if (const BuiltinInfo* info = find_builtin_info(builtins, spec)) {
    QT_CHECK(info->cached, spec, ": not in the model cache ", cache_dir.string(),
             " yet; it is trained before its files are sent");
    if (!info->path.empty() && fs::is_directory(info->path, ec)) {
      for (const auto& entry : fs::directory_iterator(info->path))
        if (entry.is_regular_file())
          files.push_back({entry.path(), std::string(kCacheFolder) + "/" +
                                             fs::relative(entry.path(), cache_dir).string()});
    } else {
      // The weights, and the record of how they were trained when there is one.
      for (const fs::path& p : {info->cache_file, training_record_path(info->cache_file)})
        if (fs::is_regular_file(p, ec))
          files.push_back({p, std::string(kCacheFolder) + "/" + p.filename().string()});
    }
  } else if (is_torchscript_spec(spec)) {
    const fs::path file = torchscript_file(spec);
    QT_CHECK(fs::is_regular_file(file, ec), file.string(), ": no such TorchScript file");
    files.push_back({file, std::string(kModelFolder) + "/" + file.filename().string()});
  } else {
    const fs::path dir = model_files_dir(spec, cache_dir);
    QT_CHECK(!dir.empty(), "model spec '", spec,
             "': not a built-in model and not a folder holding config.json");
    for (const auto& entry : fs::directory_iterator(dir))
      if (entry.is_regular_file() && is_checkpoint_file(entry.path()))
        files.push_back(
            {entry.path(), std::string(kModelFolder) + "/" + entry.path().filename().string()});
  }
  TuningConfig config = inputs.config;
  const std::vector<std::string*> data = data_paths(config);
  for (size_t i = 0; i < data.size(); ++i) {
    QT_CHECK(fs::is_regular_file(*data[i], ec), *data[i], ": not a readable file");
    files.push_back({*data[i], data_name(i, *data[i])});
  }
  std::sort(files.begin(), files.end(),
            [](const InputFile& a, const InputFile& b) { return a.relative < b.relative; });
  return files;
}

RunInputs relocate_run_inputs(const RunInputs& inputs, const fs::path& root) {
  RunInputs out = inputs;
  out.cache_dir = root / kCacheFolder;
  const std::string& spec = inputs.config.model;
  if (is_torchscript_spec(spec))
    out.config.model = torchscript_spec(root / kModelFolder / torchscript_file(spec).filename());
  else if (!find_builtin_info(list_builtin_models(cache_dir_of(inputs)), spec))
    out.config.model = "hf:" + (root / kModelFolder).string();
  const std::vector<std::string*> data = data_paths(out.config);
  for (size_t i = 0; i < data.size(); ++i) *data[i] = (root / data_name(i, *data[i])).string();
  return out;
}

}  // namespace qtune

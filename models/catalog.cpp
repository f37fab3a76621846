#include "models/catalog.h"

#include <limits>

#include "common/error.h"
#include "models/fmnist/fmnist_family.h"
#include "models/llama/builtin_lm.h"
#include "models/llama/hf_checkpoint.h"
#include "models/llama/lm_task_data.h"
#include "models/torchscript/torchscript_family.h"
#include "models/torchscript/torchscript_model.h"

namespace qtune {
namespace {

// The Llama-family decoders, built-in or a user's checkpoint: a folder of
// config.json, safetensors and tokenizer files.
ModelPtr load_lm(const std::string& spec, const ModelOptions& options) {
  return load_hf_model(model_family(spec).files_dir(spec, options.cache_dir, options.progress),
                       spec, options.weights_dtype);
}

ModelPtr build_lm(const std::string& spec, const std::map<std::string, at::Tensor>& tensors,
                  const std::filesystem::path& files_dir) {
  return std::make_unique<LlamaModel>(spec, read_llama_config(files_dir / "config.json"), tensors,
                                      files_dir);
}

TaskData lm_task(const std::string& spec, const TaskRequest& r) {
  const std::filesystem::path dir =
      r.files_dir.empty() ? model_family(spec).files_dir(spec, r.cache_dir, false) : r.files_dir;
  QT_CHECK(!r.images.uses_files(), spec,
           ": IDX image files are for classifiers; this is a language model");
  return lm_task_data(dir, lm_default_seqlen(spec, dir), r.calibration_samples, r.eval_samples,
                      r.seed, r.lm_data);
}

bool is_hf_spec(const std::string& spec) {
  if (spec.rfind("hf:", 0) == 0) return true;
  return spec.rfind("builtin:", 0) != 0 && is_hf_checkpoint_dir(spec);
}

std::vector<BuiltinInfo> no_builtins(const std::filesystem::path&) { return {}; }

std::filesystem::path no_files(const std::string&, const std::filesystem::path&, bool) {
  return {};
}

ModelPtr build_fmnist(const std::string& spec, const std::map<std::string, at::Tensor>& tensors,
                      const std::filesystem::path&) {
  return build_fmnist_model(spec, tensors);
}

std::filesystem::path builtin_lm_files(const std::string& spec,
                                       const std::filesystem::path& cache_dir, bool progress) {
  return ensure_builtin_lm(spec, cache_dir, progress);
}

std::filesystem::path hf_files(const std::string& spec, const std::filesystem::path&, bool) {
  return hf_dir_of_spec(spec);
}

}  // namespace

const std::vector<ModelFamily>& model_families() {
  static const std::vector<ModelFamily> all{
      {"fmnist-cnn", false, is_fmnist_spec, no_files, load_fmnist_model, build_fmnist,
       fmnist_task_data, fmnist_infos},
      {"builtin-lm", true, is_builtin_lm_spec, builtin_lm_files, load_lm, build_lm, lm_task,
       builtin_lm_infos},
      // Before the plain-folder checkpoints: "torchscript:..." is never a folder of theirs.
      {"torchscript", false, is_torchscript_spec, no_files, load_torchscript_family_model,
       build_torchscript_model, torchscript_task_data, no_builtins},
      {"hf-checkpoint", true, is_hf_spec, hf_files, load_lm, build_lm, lm_task, no_builtins},
  };
  return all;
}

const ModelFamily& model_family(const std::string& spec) {
  for (const ModelFamily& f : model_families())
    if (f.matches(spec)) return f;
  std::string known;
  for (const ModelFamily& f : model_families())
    for (const BuiltinInfo& b : f.builtins({})) known += (known.empty() ? "" : ", ") + b.spec;
  throw Error("unknown model \"" + spec + "\" (known: " + known + ", hf:DIR, torchscript:FILE)");
}

BuiltinInfo model_info(const std::string& spec, const std::filesystem::path& cache_dir) {
  const ModelFamily& family = model_family(spec);
  for (BuiltinInfo& info : family.builtins(cache_dir))
    if (info.spec == spec) return info;
  // A user's checkpoint: its split sizes are known once it loads, which checks them.
  BuiltinInfo info;
  info.spec = spec;
  info.train_rows = info.test_rows = std::numeric_limits<int64_t>::max();
  return info;
}

}  // namespace qtune

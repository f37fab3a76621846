#include "models/builtin.h"

#include <cstdlib>
#include <map>

#include "common/error.h"
#include "common/malloc_tuning.h"
#include "models/catalog.h"
#include "models/llama/hf_checkpoint.h"
#include "models/text/perplexity.h"
#include "models/user_data.h"

namespace qtune {

std::filesystem::path default_cache_dir() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    return std::filesystem::path(xdg) / "qtune";
  if (const char* home = std::getenv("HOME"); home && *home)
    return std::filesystem::path(home) / ".cache" / "qtune";
  return std::filesystem::temp_directory_path() / "qtune-cache";
}

std::vector<BuiltinInfo> list_builtin_models(const std::filesystem::path& cache_dir) {
  std::vector<BuiltinInfo> out;
  for (const ModelFamily& f : model_families())
    for (BuiltinInfo& info : f.builtins(cache_dir)) out.push_back(std::move(info));
  return out;
}

at::ScalarType parse_weights_dtype(const std::string& name, const std::string& where) {
  static const std::map<std::string, std::string> short_names{
      {"fp32", "float32"}, {"bf16", "bfloat16"}, {"fp16", "float16"}};
  const auto it = short_names.find(name);
  const std::string full = it == short_names.end() ? name : it->second;
  QT_CHECK(full == "float32" || full == "bfloat16" || full == "float16", where,
           ": expected float32, bfloat16 or float16 (or fp32, bf16, fp16), got '", name, "'");
  return dtype_of_torch_dtype(full);
}

ModelPtr load_model(const std::string& spec, const ModelOptions& options) {
  const ModelFamily& family = model_family(spec);
  keep_freed_tensor_memory();
  return family.load(spec, options);
}

std::filesystem::path model_files_dir(const std::string& spec,
                                      const std::filesystem::path& cache_dir, bool progress) {
  return model_family(spec).files_dir(spec, cache_dir, progress);
}

ModelPtr build_model(const std::string& spec, const std::map<std::string, at::Tensor>& tensors,
                     const std::filesystem::path& cache_dir,
                     const std::filesystem::path& files_dir) {
  const ModelFamily& family = model_family(spec);
  keep_freed_tensor_memory();
  return family.build(spec, tensors,
                      files_dir.empty() ? family.files_dir(spec, cache_dir, false) : files_dir);
}

TaskData load_task_data(const std::string& spec, int64_t calibration_samples, int64_t eval_samples,
                        uint64_t seed, const std::filesystem::path& cache_dir,
                        const std::filesystem::path& files_dir) {
  return load_task_data(spec, calibration_samples, eval_samples, seed, cache_dir, files_dir,
                        LmDataOptions{}, ImageDataOptions{});
}

TaskData load_task_data(const std::string& spec, int64_t calibration_samples, int64_t eval_samples,
                        uint64_t seed, const std::filesystem::path& cache_dir,
                        const std::filesystem::path& files_dir, const LmDataOptions& lm_data,
                        const ImageDataOptions& images) {
  TaskRequest r;
  r.calibration_samples = calibration_samples;
  r.eval_samples = eval_samples;
  r.seed = seed;
  r.cache_dir = cache_dir;
  r.files_dir = files_dir;
  r.lm_data = lm_data;
  r.images = images;
  return model_family(spec).task_data(spec, r);
}

EvalResult TaskData::evaluate(const Model& model) const {
  return evaluator ? evaluator(model) : evaluate_top1(model, evaluation);
}

EvalFn calibration_evaluator(const TaskData& data) {
  const Dataset& c = data.calibration;
  if (!c.inputs.defined() || c.size() == 0) return nullptr;
  if (c.labels.defined() && c.labels.numel() == c.size())
    return [c](const Model& m) { return evaluate_top1(m, c); };
  if (c.inputs.scalar_type() == at::kLong && c.inputs.dim() == 2 && c.inputs.size(1) >= 2) {
    const at::Tensor windows = c.inputs;
    return
        [windows](const Model& m) { return evaluate_window_perplexity(m, windows).eval_result(); };
  }
  return nullptr;
}

}  // namespace qtune

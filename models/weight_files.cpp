#include "models/weight_files.h"

#include <algorithm>

#include "models/builtin.h"
#include "models/torchscript/torchscript_model.h"

namespace qtune {

std::vector<std::filesystem::path> model_weight_files(const std::string& spec,
                                                      const std::filesystem::path& cache_dir) {
  std::vector<std::filesystem::path> files;
  if (is_torchscript_spec(spec)) {
    files.push_back(torchscript_file(spec));
  } else if (const auto dir = model_files_dir(spec, cache_dir); !dir.empty()) {
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      const auto& p = entry.path();
      if (entry.is_regular_file() &&
          (p.extension() == ".safetensors" || p.filename() == "config.json"))
        files.push_back(p);
    }
  } else {
    for (const BuiltinInfo& info : list_builtin_models(cache_dir))
      if (info.spec == spec) files.push_back(info.cache_file);
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace qtune

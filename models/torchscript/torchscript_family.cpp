#include "models/torchscript/torchscript_family.h"

#include "common/error.h"
#include "models/fmnist/fmnist_family.h"
#include "models/torchscript/torchscript_model.h"

namespace qtune {

namespace fs = std::filesystem;

ModelPtr load_torchscript_family_model(const std::string& spec, const ModelOptions& options) {
  QT_CHECK(options.weights_dtype == at::kFloat, spec, ": weights held in ", options.weights_dtype,
           " are for language models; a TorchScript model keeps float32");
  return load_torchscript_model(spec);
}

ModelPtr build_torchscript_model(const std::string& spec,
                                 const std::map<std::string, at::Tensor>& tensors,
                                 const fs::path& files_dir) {
  std::error_code ec;
  const fs::path copy = files_dir.empty() ? fs::path() : files_dir / kTorchScriptFile;
  ModelPtr model =
      load_torchscript_model(spec, !copy.empty() && fs::is_regular_file(copy, ec) ? copy : "");
  for (LayerSlot* slot : model->layers()) {
    const auto w = tensors.find(slot->name() + ".weight");
    QT_CHECK(w != tensors.end(), "model ", spec, ": tensor '", slot->name(), ".weight' is missing");
    const auto b = tensors.find(slot->name() + ".bias");
    QT_CHECK(
        (b != tensors.end()) == slot->bias().has_value(), "model ", spec, ": layer '", slot->name(),
        "' ",
        slot->bias() ? "has a bias, the saved tensors none" : "has no bias, the saved tensors one");
    slot->set_weight(w->second, b == tensors.end() ? std::nullopt
                                                   : std::optional<at::Tensor>(
                                                         b->second.to(at::kFloat).contiguous()));
  }
  return model;
}

TaskData torchscript_task_data(const std::string& spec, const TaskRequest& r) {
  return image_classifier_task_data(spec, r, false);
}

}  // namespace qtune

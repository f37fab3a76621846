#include "models/data_options.h"

namespace qtune {

Json LmDataOptions::to_json() const {
  Json j = Json::object();
  if (!calibration_file.empty()) {
    j[calibration_format] = calibration_file;
    if (calibration_format == "jsonl") j["field"] = jsonl_field;
    if (one_document_per_line) j["split"] = "line";
  }
  if (calibration_seqlen > 0) j["calibration_seqlen"] = calibration_seqlen;
  if (calibration_seed >= 0) j["calibration_seed"] = calibration_seed;
  if (!eval_file.empty()) j["perplexity"] = eval_file;
  if (eval_seqlen > 0) j["eval_seqlen"] = eval_seqlen;
  if (stride > 0) j["stride"] = stride;
  if (max_windows > 0) j["max_windows"] = max_windows;
  return j;
}

Json ImageDataOptions::to_json() const {
  Json j = Json::object();
  // The YAML's keys, so the stored form reads like the config.
  const auto pair = [](const std::string& format, const std::string& images,
                       const std::string& labels) {
    return format == "npy" ? Json{{"npy", images}, {"labels", labels}}
                           : Json{{"idx_images", images}, {"idx_labels", labels}};
  };
  if (!calibration_images.empty())
    j["calibration"] = pair(calibration_format, calibration_images, calibration_labels);
  if (!eval_images.empty()) j["evaluation"] = pair(eval_format, eval_images, eval_labels);
  if (normalize) j["normalize"] = {{"mean", mean}, {"std", std}};
  return j;
}

Json EvalCommand::to_json() const {
  if (command.empty()) return Json::object();
  Json j = {{"command", command},
            {"timeout_s", timeout_s},
            {"metric", metric},
            {"higher_is_better", higher_is_better}};
  if (!export_format.empty()) j["export"] = export_format;
  return j;
}

}  // namespace qtune

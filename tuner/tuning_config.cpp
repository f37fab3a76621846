#include "tuner/tuning_config.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <limits>
#include <regex>
#include <set>
#include <sstream>

#include "backends/backend_list.h"
#include "common/error.h"
#include "models/builtin.h"
#include "models/catalog.h"
#include "models/llama/hf_checkpoint.h"
#include "storage/formats/export.h"
#include "tuner/auto_space.h"
#include "tuner/strategy.h"
#include "tuner/trial.h"
#include "tuner/yaml_document.h"

namespace qtune {
namespace {

// Every error names the file and the dotted field path ("search_space[0].params.bits").
class Parser {
 public:
  explicit Parser(std::string source, DataFiles data_files = DataFiles::kReadable)
      : source_(std::move(source)), data_files_(data_files) {}

  [[noreturn]] void fail(const std::string& path, const std::string& what) const {
    throw Error(source_ + ": " + (path.empty() ? "" : path + ": ") + what);
  }

  static std::string join(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
    return out;
  }

  static std::string show(const YAML::Node& n) {
    if (n.IsScalar()) return n.Tag() == "!" ? "\"" + n.Scalar() + "\"" : n.Scalar();
    if (n.IsSequence()) return "a list";
    if (n.IsMap()) return "a mapping";
    return "nothing";
  }

  void expect_keys(const YAML::Node& map, const std::string& path,
                   const std::vector<std::string>& allowed) const {
    if (!map.IsMap()) fail(path, "expected a mapping, got " + show(map));
    for (const auto& kv : map) {
      const std::string key = kv.first.Scalar();
      bool ok = false;
      for (const auto& a : allowed) ok = ok || a == key;
      if (!ok) fail(child(path, key), "unknown key (expected one of: " + join(allowed) + ")");
    }
  }

  static std::string child(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

  int64_t integer(const YAML::Node& n, const std::string& path, int64_t min) const {
    const Json v = n.IsScalar() ? yaml_scalar(n) : Json();
    if (!v.is_number_integer() || v.get<int64_t>() < min)
      fail(path, "expected an integer >= " + std::to_string(min) + ", got " + show(n));
    return v.get<int64_t>();
  }

  int64_t integer_in(const YAML::Node& n, const std::string& path, int64_t min, int64_t max,
                     const std::string& why) const {
    const Json v = n.IsScalar() ? yaml_scalar(n) : Json();
    if (!v.is_number_integer() || v.get<int64_t>() < min || v.get<int64_t>() > max)
      fail(path, "expected an integer in [" + std::to_string(min) + ", " + std::to_string(max) +
                     "] (" + why + "), got " + show(n));
    return v.get<int64_t>();
  }

  // Checked here, not when the run loads it: by then out_dir may hold a new results.db.
  BuiltinInfo model(const YAML::Node& n, const std::string& path) const {
    const std::string spec = string(n, path);
    try {
      return model_info(spec, default_cache_dir());
    } catch (const Error& e) {
      fail(path, e.what());
    }
  }

  double number(const YAML::Node& n, const std::string& path, double min, bool strict) const {
    const Json v = n.IsScalar() ? yaml_scalar(n) : Json();
    if (!v.is_number() || v.get<double>() < min || (strict && v.get<double>() == min)) {
      std::ostringstream m;
      m << "expected a number " << (strict ? "> " : ">= ") << min << ", got " << show(n);
      fail(path, m.str());
    }
    return v.get<double>();
  }

  std::string string(const YAML::Node& n, const std::string& path) const {
    if (!n.IsScalar() || n.Scalar().empty()) fail(path, "expected a string, got " + show(n));
    return n.Scalar();
  }

  std::string choice(const YAML::Node& n, const std::string& path,
                     const std::vector<std::string>& allowed) const {
    const std::string s = n.IsScalar() ? n.Scalar() : std::string();
    for (const auto& a : allowed)
      if (a == s) return s;
    fail(path, "expected one of " + join(allowed) + ", got " + show(n));
  }

  std::string regex(const YAML::Node& n, const std::string& path) const {
    const std::string s = string(n, path);
    try {
      std::regex re(s);
    } catch (const std::regex_error& e) {
      fail(path, "invalid regular expression \"" + s + "\": " + e.what());
    }
    return s;
  }

  // A string or a list of strings.
  std::vector<std::string> string_list(const YAML::Node& n, const std::string& path,
                                       bool regexes) const {
    std::vector<std::string> out;
    if (n.IsSequence()) {
      if (n.size() == 0) fail(path, "expected a non-empty list");
      for (size_t i = 0; i < n.size(); ++i) {
        const std::string p = path + "[" + std::to_string(i) + "]";
        out.push_back(regexes ? regex(n[i], p) : string(n[i], p));
      }
    } else {
      out.push_back(regexes ? regex(n, path) : string(n, path));
    }
    return out;
  }

  std::vector<std::string> backend_list(const YAML::Node& n, const std::string& path) const {
    std::vector<std::string> known{"auto"};
    for (const auto& b : backend_names()) known.push_back(b);
    std::vector<std::string> out = string_list(n, path, false);
    for (size_t i = 0; i < out.size(); ++i) {
      bool ok = false;
      for (const auto& k : known) ok = ok || k == out[i];
      if (!ok)
        fail(n.IsSequence() ? path + "[" + std::to_string(i) + "]" : path,
             "unknown backend \"" + out[i] + "\" (known: " + join(known) + ")");
    }
    return out;
  }

  // One value checked through the algorithm's schema; the schema names the key.
  void check_param(const Quantizer& q, const std::string& key, const Json& value,
                   const std::string& params_path) const {
    Json one = Json::object();
    one[key] = value;
    q.schema().validate(one, source_ + ": " + params_path);
  }

  Json params(const YAML::Node& n, const Quantizer& q, const std::string& path,
              bool allow_lists) const {
    if (!n.IsMap()) fail(path, "expected a mapping of parameters, got " + show(n));
    Json out = Json::object();
    for (const auto& kv : n) {
      const std::string key = kv.first.Scalar();
      const YAML::Node& v = kv.second;
      if (!q.schema().find(key)) {
        std::vector<std::string> names;
        for (const auto& p : q.schema().params) names.push_back(p.name);
        fail(child(path, key),
             "unknown parameter of " + q.name() + " (expected one of: " + join(names) + ")");
      }
      if (v.IsSequence()) {
        if (!allow_lists) fail(child(path, key), "expected a single value, got a list");
        if (v.size() == 0) fail(child(path, key), "expected a non-empty list of values");
        Json list = Json::array();
        for (size_t i = 0; i < v.size(); ++i) {
          if (!v[i].IsScalar())
            fail(child(path, key) + "[" + std::to_string(i) + "]",
                 "expected a value, got " + show(v[i]));
          const Json value = yaml_scalar(v[i]);
          check_param(q, key, value, path);
          list.push_back(value);
        }
        out[key] = list;
      } else if (v.IsScalar() || v.IsNull()) {
        const Json value = yaml_scalar(v);
        check_param(q, key, value, path);
        out[key] = value;
      } else {
        fail(child(path, key), "expected a value or a list of values, got a mapping");
      }
    }
    return out;
  }

  const Quantizer& algorithm(const YAML::Node& n, const std::string& path) const {
    const std::string name = string(n, path);
    const auto names = quantizer_names();
    bool ok = false;
    for (const auto& k : names) ok = ok || k == name;
    if (!ok) fail(path, "unknown algorithm \"" + name + "\" (known: " + join(names) + ")");
    return quantizer_by_name(name);
  }

  // `allow_lists`: a tuning block (params and override params may list values).
  AlgorithmBlock block(const YAML::Node& n, const std::string& path, bool allow_lists) const {
    expect_keys(n, path, {"algorithm", "params", "backend", "overrides", "fp32_layers"});
    if (!n["algorithm"])
      fail(child(path, "algorithm"), "missing (every block names its algorithm)");
    AlgorithmBlock b;
    const Quantizer& q = algorithm(n["algorithm"], child(path, "algorithm"));
    b.algorithm = q.name();
    if (n["params"]) b.params = params(n["params"], q, child(path, "params"), allow_lists);
    if (n["backend"]) b.backends = backend_list(n["backend"], child(path, "backend"));
    if (!allow_lists && b.backends.size() > 1)
      fail(child(path, "backend"), "expected one backend, got a list");
    // An empty list is what a stored trial config holds when no layer stays
    // fp32, so a block copied from the database parses back.
    const YAML::Node fp32 = n["fp32_layers"];
    if (fp32 && !(fp32.IsSequence() && fp32.size() == 0))
      b.fp32_layers = string_list(fp32, child(path, "fp32_layers"), true);
    if (const YAML::Node ov = n["overrides"]) {
      const std::string opath = child(path, "overrides");
      if (!ov.IsSequence()) fail(opath, "expected a list of overrides, got " + show(ov));
      for (size_t i = 0; i < ov.size(); ++i) {
        const std::string p = opath + "[" + std::to_string(i) + "]";
        // name/type is the documented spelling; name_regex/layer_type is how
        // a saved qconfig.json spells them, accepted so a block can be copied.
        expect_keys(ov[i], p, {"name", "type", "name_regex", "layer_type", "params"});
        if (ov[i]["name"] && ov[i]["name_regex"])
          fail(child(p, "name_regex"), "given together with name (they are the same field)");
        if (ov[i]["type"] && ov[i]["layer_type"])
          fail(child(p, "layer_type"), "given together with type (they are the same field)");
        LayerOverride o;
        for (const char* key : {"name", "name_regex"})
          if (ov[i][key]) o.name_regex = regex(ov[i][key], child(p, key));
        for (const char* key : {"type", "layer_type"})
          if (ov[i][key]) o.layer_type = choice(ov[i][key], child(p, key), {"Linear", "Conv2d"});
        if (o.name_regex.empty() && o.layer_type.empty())
          fail(p, "an override needs a layer name pattern (name) or a layer type (type)");
        if (!ov[i]["params"]) fail(child(p, "params"), "missing");
        o.params = params(ov[i]["params"], q, child(p, "params"), allow_lists);
        b.overrides.push_back(std::move(o));
      }
    }
    return b;
  }

  bool boolean(const YAML::Node& n, const std::string& path) const {
    const Json v = n.IsScalar() ? yaml_scalar(n) : Json();
    if (!v.is_boolean()) fail(path, "expected true or false, got " + show(n));
    return v.get<bool>();
  }

  bool readable(const std::string& file) const {
    if (data_files_ == DataFiles::kNamed) return true;
    std::error_code ec;
    return std::filesystem::is_regular_file(file, ec) && std::ifstream(file, std::ios::binary);
  }

  // A data file is read (and fully checked) when the run loads its data, on
  // every rank; here only that it names a readable file, so that a typo fails
  // before anything else happens.
  std::string data_file(const YAML::Node& n, const std::string& path, const BuiltinInfo& m,
                        bool language_model) const {
    const std::string file = string(n, path);
    if (!language_model)
      fail(path, "text data are for language models; " + m.spec + " is a classifier");
    if (!readable(file)) fail(path, file + ": cannot read the data file");
    return file;
  }

  // A classifier's IDX pair under `path` (calibration or evaluation): both files or neither.
  // A classifier's image/label pair under `path` (calibration or evaluation):
  // {idx_images, idx_labels} or {npy, labels}, both files of a pair or neither.
  void image_pair(const YAML::Node& n, const std::string& path, const BuiltinInfo& m,
                  bool language_model, std::string& images, std::string& labels,
                  std::string& format) const {
    const bool idx = n["idx_images"] || n["idx_labels"];
    const bool npy = n["npy"] || n["labels"];
    if (!idx && !npy) return;
    if (idx && npy) fail(path, "give idx_images/idx_labels or npy/labels, not both");
    format = idx ? "idx" : "npy";
    const char* image_key = idx ? "idx_images" : "npy";
    const char* label_key = idx ? "idx_labels" : "labels";
    const std::string together =
        std::string("missing (") + image_key + " and " + label_key + " go together)";
    for (const char* key : {image_key, label_key}) {
      if (language_model)
        fail(child(path, key), std::string(idx ? "IDX" : ".npy") +
                                   " image files are for classifiers; " + m.spec +
                                   " is a language model");
      if (!n[key]) fail(child(path, key), together);
    }
    for (const char* key : {image_key, label_key}) {
      const std::string file = string(n[key], child(path, key));
      if (!readable(file)) fail(child(path, key), file + ": cannot read the data file");
      (key == image_key ? images : labels) = file;
    }
  }

  // One normalisation for the model's inputs, given in either block (the same in both).
  void normalize(const YAML::Node& block, const std::string& block_path, bool language_model,
                 ImageDataOptions& img) const {
    const auto n = block["normalize"];
    if (!n) return;
    const std::string path = child(block_path, "normalize");
    if (language_model) fail(path, "only for classifiers");
    expect_keys(n, path, {"mean", "std"});
    if (!n["mean"] || !n["std"]) fail(path, "expected {mean: M, std: S}, both given");
    const double mean = number(n["mean"], child(path, "mean"), -1e30, false);
    const double deviation = number(n["std"], child(path, "std"), 0, true);
    if (img.normalize && (img.mean != mean || img.std != deviation))
      fail(path, "differs from calibration.normalize (one normalisation for the model)");
    img.normalize = true;
    img.mean = mean;
    img.std = deviation;
  }

  void calibration(const YAML::Node& n, const BuiltinInfo& m, bool language_model,
                   TuningConfig& c) const {
    expect_keys(n, "calibration",
                {"samples", "text", "jsonl", "field", "split", "seqlen", "seed", "idx_images",
                 "idx_labels", "npy", "labels", "normalize"});
    ImageDataOptions& img = c.image_data;
    image_pair(n, "calibration", m, language_model, img.calibration_images, img.calibration_labels,
               img.calibration_format);
    normalize(n, "calibration", language_model, img);
    LmDataOptions& d = c.lm_data;
    if (n["text"] && n["jsonl"]) fail("calibration", "give text or jsonl, not both");
    if (n["text"]) d.calibration_file = data_file(n["text"], "calibration.text", m, language_model);
    if (n["jsonl"]) {
      d.calibration_file = data_file(n["jsonl"], "calibration.jsonl", m, language_model);
      d.calibration_format = "jsonl";
      if (!n["field"]) fail("calibration.field", "missing (the JSON field holding each document)");
      d.jsonl_field = string(n["field"], "calibration.field");
    } else if (n["field"]) {
      fail("calibration.field", "only with calibration.jsonl");
    }
    if (n["split"]) {
      if (!n["text"]) fail("calibration.split", "only with calibration.text");
      d.one_document_per_line =
          choice(n["split"], "calibration.split", {"paragraph", "line"}) == "line";
    }
    if (n["seqlen"]) {
      if (!language_model) fail("calibration.seqlen", "only for language models");
      d.calibration_seqlen = integer(n["seqlen"], "calibration.seqlen", 2);
    }
    if (n["seed"]) {
      if (!language_model)
        fail("calibration.seed", "only for language models (a classifier's draw uses seed)");
      d.calibration_seed = integer(n["seed"], "calibration.seed", 0);
    }
    if (n["samples"]) {
      if (d.calibration_file.empty() && img.calibration_images.empty())
        c.calibration_samples = integer_in(n["samples"], "calibration.samples", 0, m.train_rows,
                                           "rows of the training split of " + m.spec);
      else
        c.calibration_samples = integer(n["samples"], "calibration.samples", 0);
    }
  }

  void evaluation(const YAML::Node& n, const BuiltinInfo& m, bool language_model,
                  TuningConfig& c) const {
    expect_keys(n, "evaluation",
                {"samples", "perplexity", "seqlen", "stride", "max_windows", "command", "timeout_s",
                 "metric", "higher_is_better", "export", "idx_images", "idx_labels", "npy",
                 "labels", "normalize"});
    ImageDataOptions& img = c.image_data;
    image_pair(n, "evaluation", m, language_model, img.eval_images, img.eval_labels,
               img.eval_format);
    normalize(n, "evaluation", language_model, img);
    LmDataOptions& d = c.lm_data;
    if (n["perplexity"] && n["command"]) fail("evaluation", "give perplexity or command, not both");
    if (n["perplexity"]) {
      d.eval_file = data_file(n["perplexity"], "evaluation.perplexity", m, language_model);
      if (n["samples"]) fail("evaluation.samples", "not with perplexity (use max_windows)");
    }
    for (const char* key : {"seqlen", "stride", "max_windows"})
      if (n[key] && !n["perplexity"])
        fail(child("evaluation", key), "only with evaluation.perplexity");
    if (n["seqlen"]) d.eval_seqlen = integer(n["seqlen"], "evaluation.seqlen", 2);
    if (n["stride"]) d.stride = integer(n["stride"], "evaluation.stride", 1);
    if (n["max_windows"]) d.max_windows = integer(n["max_windows"], "evaluation.max_windows", 1);
    if (d.eval_seqlen > 0 && d.stride > d.eval_seqlen)
      fail("evaluation.stride", "expected at most seqlen (" + std::to_string(d.eval_seqlen) +
                                    "), got " + std::to_string(d.stride));
    EvalCommand& e = c.eval_command;
    if (n["command"]) {
      e.command = string(n["command"], "evaluation.command");
      if (!n["metric"]) fail("evaluation.metric", "missing (the JSON key the command prints)");
      e.metric = string(n["metric"], "evaluation.metric");
      if (n["timeout_s"]) e.timeout_s = number(n["timeout_s"], "evaluation.timeout_s", 0, false);
      if (n["higher_is_better"])
        e.higher_is_better = boolean(n["higher_is_better"], "evaluation.higher_is_better");
      if (n["export"]) {
        e.export_format = export_format(n["export"], "evaluation.export");
        if (!language_model)
          fail("evaluation.export",
               "the export formats hold language models; " + m.spec + " is a classifier");
      }
    } else {
      for (const char* key : {"timeout_s", "metric", "higher_is_better", "export"})
        if (n[key]) fail(child("evaluation", key), "only with evaluation.command");
    }
    if (n["samples"]) {
      if (img.eval_images.empty())
        c.eval_samples = integer_in(n["samples"], "evaluation.samples", 0, m.test_rows,
                                    "rows of the test split of " + m.spec + "; 0 = all");
      else
        c.eval_samples = integer(n["samples"], "evaluation.samples", 0);
    }
  }

  TuningConfig parse(const YAML::Node& root) const {
    TuningConfig c;
    c.source = source_;
    if (root.IsNull())
      fail("",
           "the file is empty (expected a mapping of tuning settings: model, search_space, ...)");
    if (!root.IsMap())
      fail("", "expected a mapping of tuning settings at the top level, got " + show(root));
    expect_keys(root, "",
                {"model", "calibration", "evaluation", "search_space", "constraints", "objective",
                 "select", "strategy", "max_trials", "timeout", "trial_timeout", "seed", "latency",
                 "export", "isolation", "weights_dtype"});
    const BuiltinInfo m = model(root["model"] ? root["model"] : YAML::Node(c.model), "model");
    c.model = m.spec;
    // hf: checkpoints and the built-in LMs (which have a window length) are language models.
    const bool language_model = model_family(m.spec).language_model;
    if (const auto n = root["weights_dtype"]) {
      const std::string name = string(n, "weights_dtype");
      try {
        c.weights_dtype = torch_dtype_name(parse_weights_dtype(name, "weights_dtype"));
      } catch (const Error&) {
        fail("weights_dtype", "expected float32, bfloat16 or float16, got " + show(n));
      }
      if (!language_model && c.weights_dtype != "float32")
        fail("weights_dtype",
             "16-bit weights are for language models; " + m.spec + " keeps float32");
    }
    if (const auto n = root["calibration"]) calibration(n, m, language_model, c);
    if (const auto n = root["evaluation"]) evaluation(n, m, language_model, c);
    const YAML::Node space = root["search_space"];
    if (!space) fail("search_space", "missing (a list of algorithm blocks, or auto)");
    // Classifiers may have convolutions: an auto space's backends must run them.
    const bool has_conv = !language_model;
    if (space.IsScalar()) {
      c.search_space = auto_space(space, "search_space", has_conv);
    } else {
      if (!space.IsSequence() || space.size() == 0)
        fail("search_space", "expected a non-empty list of algorithm blocks or " +
                                 join(auto_space_names()) + ", got " +
                                 (space.IsSequence() ? std::string("an empty list") : show(space)));
      for (size_t i = 0; i < space.size(); ++i) {
        const std::string p = "search_space[" + std::to_string(i) + "]";
        if (space[i].IsScalar()) {
          for (auto& b : auto_space(space[i], p, has_conv)) c.search_space.push_back(std::move(b));
        } else {
          c.search_space.push_back(block(space[i], p, true));
        }
      }
    }
    if (const auto n = root["constraints"]) {
      expect_keys(n, "constraints",
                  {"max_accuracy_loss", "loss_type", "max_latency_ms", "max_size_bytes",
                   "max_bits_per_weight"});
      if (n["max_accuracy_loss"])
        c.constraints.max_accuracy_loss =
            number(n["max_accuracy_loss"], "constraints.max_accuracy_loss", 0, false);
      if (n["loss_type"])
        c.constraints.relative_loss =
            choice(n["loss_type"], "constraints.loss_type", {"relative", "absolute"}) == "relative";
      if (n["max_latency_ms"] && !n["max_latency_ms"].IsNull())
        c.constraints.max_latency_ms =
            number(n["max_latency_ms"], "constraints.max_latency_ms", 0, true);
      if (n["max_size_bytes"] && !n["max_size_bytes"].IsNull())
        c.constraints.max_size_bytes =
            integer(n["max_size_bytes"], "constraints.max_size_bytes", 1);
      if (n["max_bits_per_weight"] && !n["max_bits_per_weight"].IsNull())
        c.constraints.max_bits_per_weight =
            number(n["max_bits_per_weight"], "constraints.max_bits_per_weight", 0, true);
    }
    if (root["objective"])
      c.objective =
          choice(root["objective"], "objective", {"latency", "size", "accuracy", "pareto"});
    if (root["select"]) {
      c.select = choice(root["select"], "select", {"size", "accuracy", "latency"});
      if (c.objective != "pareto")
        fail("select",
             "picks the best of a Pareto front: needs objective: pareto, got objective: " +
                 c.objective);
    }
    if (const auto n = root["strategy"]) strategy(n, c);
    // Widths that change the group size leave the others at the base's: it must say which.
    if (c.strategy_options.contains("widths") && !c.search_space.empty() &&
        !c.search_space.front().params.contains("group_size")) {
      const Json& widths = c.strategy_options["widths"];
      for (size_t i = 0; i < widths.size(); ++i)
        if (widths[i].is_object())
          fail("strategy.widths[" + std::to_string(i) + "].group_size",
               "needs search_space[0].params to set group_size (the group of the widths that "
               "give bits alone)");
    }
    if (c.strategy == "mixed-bits" && c.calibration_samples == 0 &&
        c.strategy_options.value("probe_data", std::string("calibration")) == "calibration")
      fail("calibration.samples",
           "is 0, but mixed-bits scores its sensitivity probes on the calibration set: give "
           "samples, or set strategy.probe_data: evaluation");
    if (c.strategy == "mixed-bits" && !c.constraints.max_bits_per_weight &&
        !c.constraints.max_size_bytes)
      fail("strategy",
           "mixed-bits allocates widths under a budget: set "
           "constraints.max_bits_per_weight or constraints.max_size_bytes");
    if (root["max_trials"]) c.max_trials = integer(root["max_trials"], "max_trials", 1);
    if (root["timeout"]) c.timeout_s = number(root["timeout"], "timeout", 0, false);
    if (root["trial_timeout"])
      c.trial_timeout_s = number(root["trial_timeout"], "trial_timeout", 0, false);
    if (root["seed"]) c.seed = static_cast<uint64_t>(integer(root["seed"], "seed", 0));
    if (root["isolation"]) c.isolation = boolean(root["isolation"], "isolation");
    c.latency_metric = language_model ? "decode" : "forward";
    if (const auto n = root["latency"]) {
      expect_keys(n, "latency", {"batch", "warmup", "runs", "metric"});
      if (n["metric"]) {
        c.latency_metric = choice(n["metric"], "latency.metric", {"decode", "prefill", "forward"});
        if (!language_model && c.latency_metric != "forward")
          fail("latency.metric", c.latency_metric + " needs a language model; " + m.spec +
                                     " is a classifier (use forward)");
      }
      if (n["batch"]) c.latency_batch = integer(n["batch"], "latency.batch", 1);
      if (n["warmup"])
        c.latency_warmup = static_cast<int>(integer(n["warmup"], "latency.warmup", 0));
      // The issue requires at least 20 timed runs per trial: fewer make p50/p90 noise.
      if (n["runs"]) c.latency_runs = static_cast<int>(integer(n["runs"], "latency.runs", 20));
    }
    if (const auto n = root["export"]) c.exports = export_list(n);
    return c;
  }

  // `strategy: NAME`, or a mapping with name and the strategy's own settings.
  void strategy(const YAML::Node& n, TuningConfig& c) const {
    if (!n.IsMap()) {
      c.strategy = choice(n, "strategy", Strategy::names());
      return;
    }
    if (!n["name"]) fail("strategy.name", "missing (one of " + join(Strategy::names()) + ")");
    c.strategy = choice(n["name"], "strategy.name", Strategy::names());
    if (c.strategy != "mixed-bits") {
      expect_keys(n, "strategy", {"name"});
    } else {
      expect_keys(n, "strategy", {"name", "widths", "budgets", "probe_data"});
      if (n["probe_data"])
        c.strategy_options["probe_data"] =
            choice(n["probe_data"], "strategy.probe_data", {"calibration", "evaluation"});
      if (const auto w = n["widths"]) {
        if (!w.IsSequence() || w.size() == 0)
          fail("strategy.widths", "expected a non-empty list of bit widths, got " + show(w));
        // A width is bits, or {bits, group_size}: kept in that form, so that a
        // list of plain bit counts keeps its canonical JSON (and --resume).
        Json widths = Json::array();
        for (size_t i = 0; i < w.size(); ++i) {
          const std::string p = "strategy.widths[" + std::to_string(i) + "]";
          Json width;
          if (w[i].IsMap()) {
            expect_keys(w[i], p, {"bits", "group_size"});
            if (!w[i]["bits"]) fail(child(p, "bits"), "missing");
            if (!w[i]["group_size"])
              fail(child(p, "group_size"), "missing (or write the bits alone)");
            const int64_t group = integer(w[i]["group_size"], child(p, "group_size"), -1);
            if (group == 0) fail(child(p, "group_size"), "expected -1 (per channel) or > 0, got 0");
            width = {{"bits", integer_in(w[i]["bits"], child(p, "bits"), 1, 8, "bits of a weight")},
                     {"group_size", group}};
          } else {
            width = integer_in(w[i], p, 1, 8, "bits of a weight");
          }
          for (const Json& earlier : widths)
            if (earlier == width) fail(p, "width " + width.dump() + " is listed twice");
          widths.push_back(width);
        }
        c.strategy_options["widths"] = widths;
      }
      if (const auto b = n["budgets"]) {
        if (!b.IsSequence() || b.size() == 0)
          fail("strategy.budgets",
               "expected a non-empty list of fractions of the budget, got " + show(b));
        std::vector<double> fractions;
        for (size_t i = 0; i < b.size(); ++i) {
          const std::string p = "strategy.budgets[" + std::to_string(i) + "]";
          const double f = number(b[i], p, 0, true);
          if (f > 1) fail(p, "expected a fraction of the budget in (0, 1], got " + show(b[i]));
          fractions.push_back(f);
        }
        c.strategy_options["budgets"] = fractions;
      }
    }
  }

  std::vector<AlgorithmBlock> auto_space(const YAML::Node& n, const std::string& path,
                                         bool has_conv) const {
    return auto_search_space(choice(n, path, auto_space_names()), has_conv);
  }

  // Checked now: a typo must not surface only after hours of tuning.
  std::string export_format(const YAML::Node& v, const std::string& path) const {
    std::vector<std::string> known;
    for (const ExportFormat& f : export_formats()) known.push_back(f.name);
    const std::string expected =
        "an export format (known: " + (known.empty() ? std::string("none") : join(known)) + ")";
    if (!v.IsScalar() || v.Scalar().empty())
      fail(path, "expected " + expected + ", got " + show(v));
    for (const auto& k : known)
      if (k == v.Scalar()) return v.Scalar();
    fail(path, "unknown format \"" + v.Scalar() + "\"; expected " + expected);
  }

  std::vector<std::string> export_list(const YAML::Node& n) const {
    std::vector<std::string> out;
    if (n.IsSequence()) {
      for (size_t i = 0; i < n.size(); ++i) {
        const std::string path = "export[" + std::to_string(i) + "]";
        const std::string f = export_format(n[i], path);
        for (const auto& seen : out)
          if (seen == f) fail(path, "\"" + f + "\" is listed twice");
        out.push_back(f);
      }
    } else {
      out.push_back(export_format(n, "export"));
    }
    return out;
  }

 private:
  std::string source_;
  DataFiles data_files_;
};

}  // namespace

TuningConfig parse_tuning_config(const std::string& yaml_text, const std::string& source,
                                 DataFiles data_files) {
  const YAML::Node root = load_yaml_document(yaml_text, source);
  return Parser(source, data_files).parse(root);
}

Json parse_quantization_block(const std::string& yaml_text, const std::string& source,
                              const std::string& algorithm) {
  YAML::Node root = load_yaml_document(yaml_text, source);
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  QT_CHECK(root.IsMap(), source,
           ": expected a mapping with algorithm, params, overrides, fp32_layers, backend");
  if (!algorithm.empty()) root["algorithm"] = algorithm;
  const AlgorithmBlock b = Parser(source).block(root, "", false);
  QuantConfig qc;
  qc.algorithm = b.algorithm;
  qc.params = b.params;
  qc.overrides = b.overrides;
  qc.fp32_layers = b.fp32_layers;
  qc.backend = b.backends.front();
  return qc.to_json();
}

TuningConfig load_tuning_config(const std::filesystem::path& path, DataFiles data_files) {
  std::ifstream in(path, std::ios::binary);
  QT_CHECK(in, path.string(), ": cannot open the tuning config");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_tuning_config(text.str(), path.string(), data_files);
}

Json TuningConfig::to_json() const {
  Json j;
  j["model"] = model;
  j["calibration"] = {{"samples", calibration_samples}};
  j["evaluation"] = {{"samples", eval_samples}};
  // Only when set: a config without them keeps its identity (--resume).
  if (const Json d = lm_data.to_json(); !d.empty()) j["data"] = d;
  if (const Json d = image_data.to_json(); !d.empty()) j["image_data"] = d;
  if (!eval_command.command.empty()) j["evaluation"]["command"] = eval_command.to_json();
  Json space = Json::array();
  for (const auto& b : search_space) {
    Json jb;
    jb["algorithm"] = b.algorithm;
    jb["params"] = b.params;
    jb["backend"] = b.backends;
    Json ov = Json::array();
    for (const auto& o : b.overrides)
      ov.push_back({{"name", o.name_regex}, {"type", o.layer_type}, {"params", o.params}});
    jb["overrides"] = ov;
    jb["fp32_layers"] = b.fp32_layers;
    space.push_back(jb);
  }
  j["search_space"] = space;
  Json cons;
  cons["max_accuracy_loss"] = constraints.max_accuracy_loss;
  cons["loss_type"] = constraints.relative_loss ? "relative" : "absolute";
  cons["max_latency_ms"] = constraints.max_latency_ms ? Json(*constraints.max_latency_ms) : Json();
  cons["max_size_bytes"] = constraints.max_size_bytes ? Json(*constraints.max_size_bytes) : Json();
  // Only when set, so that the identity (--resume) of other runs is unchanged.
  if (constraints.max_bits_per_weight)
    cons["max_bits_per_weight"] = *constraints.max_bits_per_weight;
  j["constraints"] = cons;
  j["objective"] = objective;
  // Only with pareto, so that the identity (--resume) of other runs is unchanged.
  if (objective == "pareto") j["select"] = select;
  j["strategy"] = strategy;
  if (!strategy_options.empty()) j["strategy_options"] = strategy_options;
  j["max_trials"] = max_trials;
  j["timeout"] = timeout_s;
  j["trial_timeout"] = trial_timeout_s;
  j["seed"] = seed;
  j["latency"] = {{"batch", latency_batch},
                  {"warmup", latency_warmup},
                  {"runs", latency_runs},
                  {"metric", latency_metric}};
  j["export"] = exports;
  // Only when off, so that the stored config of other runs is unchanged.
  if (!isolation) j["isolation"] = false;
  // Only when set, so that the identity (--resume) of other runs is unchanged.
  if (weights_dtype != "float32") j["weights_dtype"] = weights_dtype;
  return j;
}

Json TuningConfig::identity_json() const {
  Json j = to_json();
  j.erase("max_trials");
  j.erase("timeout");
  j.erase("trial_timeout");
  j.erase("export");
  j.erase("isolation");
  return j;
}

namespace {

// One tunable dimension: a param of the block, or of one of its overrides.
struct Dimension {
  int override_index = -1;  ///< -1: the block's params
  std::string key;
  std::vector<Json> values;
};

void add_dimensions(std::vector<Dimension>& dims, const Json& params, int override_index) {
  for (const auto& [key, value] : params.items()) {
    Dimension d{override_index, key, {}};
    if (value.is_array())
      for (const auto& v : value) d.values.push_back(v);
    else
      d.values.push_back(value);
    dims.push_back(std::move(d));
  }
}

// Odometer step over the dimensions, the last one fastest; false after the last combination.
bool advance(std::vector<size_t>& pos, const std::vector<Dimension>& dims) {
  for (size_t d = dims.size(); d-- > 0;) {
    if (++pos[d] < dims[d].values.size()) return true;
    pos[d] = 0;
  }
  return false;
}

}  // namespace

std::vector<QuantConfig> expand_search_space(const TuningConfig& config, bool cut_at_max_trials) {
  std::vector<QuantConfig> out;
  std::set<std::string> seen;
  for (size_t bi = 0; bi < config.search_space.size(); ++bi) {
    const AlgorithmBlock& b = config.search_space[bi];
    const Quantizer& q = quantizer_by_name(b.algorithm);
    // One dimension per param (a scalar is a dimension of one value), in
    // declaration order, then each override's params, then the backend; the
    // last dimension varies fastest.
    std::vector<Dimension> dims;
    add_dimensions(dims, b.params, -1);
    for (size_t oi = 0; oi < b.overrides.size(); ++oi)
      add_dimensions(dims, b.overrides[oi].params, static_cast<int>(oi));
    std::vector<size_t> pos(dims.size(), 0);
    const std::string where = config.source + ": search_space[" + std::to_string(bi) + "].params";
    do {
      Json params = Json::object();
      std::vector<LayerOverride> overrides = b.overrides;
      for (auto& o : overrides) o.params = Json::object();
      for (size_t d = 0; d < dims.size(); ++d) {
        Json& target = dims[d].override_index < 0
                           ? params
                           : overrides[static_cast<size_t>(dims[d].override_index)].params;
        target[dims[d].key] = dims[d].values[pos[d]];
      }
      const Json full = q.schema().validate(params, where);
      for (const auto& backend : b.backends) {
        QuantConfig qc;
        qc.algorithm = b.algorithm;
        qc.params = full;
        qc.overrides = overrides;
        qc.fp32_layers = b.fp32_layers;
        qc.backend = backend;
        if (seen.insert(config_hash(qc)).second) {
          out.push_back(std::move(qc));
          if (cut_at_max_trials && static_cast<int64_t>(out.size()) >= config.max_trials)
            return out;
        }
      }
    } while (advance(pos, dims));
  }
  return out;
}

}  // namespace qtune

#include "storage/artifact.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "backends/backend_list.h"
#include "backends/int8.h"
#include "common/error.h"
#include "models/builtin.h"
#include "models/llama/hf_checkpoint.h"
#include "models/safetensors.h"
#include "models/torchscript/torchscript_model.h"
#include "storage/qconfig_file.h"
#include "storage/quant_spec_json.h"
#include "storage/quantized_layout_check.h"

namespace qtune {

namespace fs = std::filesystem;
using storage_detail::check_quantized_layout;
using storage_detail::kQconfigFormat;
using storage_detail::kQconfigFormatVersion;
using storage_detail::parse_qconfig;
using storage_detail::Qconfig;
using storage_detail::QconfigLayer;
using storage_detail::spec_from_params;
using storage_detail::spec_to_json;

namespace {

constexpr const char* kQconfigFile = "qconfig.json";
constexpr const char* kTensorsFile = "model.safetensors";

// "out/best/" names the same directory as "out/best"; the temp and backup
// names below are built from the last component, so it must not be empty.
fs::path without_trailing_slash(const fs::path& dir) {
  return dir.has_filename() ? dir : dir.parent_path();
}

void write_text_file(const fs::path& path, const std::string& text) {
  FILE* f = std::fopen(path.c_str(), "wb");
  QT_CHECK(f != nullptr, path.string(), ": cannot create: ", std::strerror(errno));
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  ok = ok && std::fflush(f) == 0 && ::fsync(fileno(f)) == 0;
  const int saved_errno = errno;
  ok = (std::fclose(f) == 0) && ok;
  QT_CHECK(ok, path.string(), ": write failed: ", std::strerror(saved_errno));
}

std::optional<at::Tensor> take_tensor(std::map<std::string, at::Tensor>& tensors,
                                      const std::string& name) {
  auto it = tensors.find(name);
  if (it == tensors.end()) return std::nullopt;
  at::Tensor t = std::move(it->second);
  tensors.erase(it);
  return t;
}

/// The QuantSpec and shape of a quantized layer being saved: from the kernel
/// when it exposes its weight, else from the report's parameters.
QuantizedWeight saved_weight(const LayerSlot& slot, const LayerReport* report,
                             const std::map<std::string, at::Tensor>& kt,
                             const std::string& where) {
  QuantizedWeight w;
  const LayerKernel& k = *slot.kernel();
  if (const QuantizedWeight* qw = k.quantized_weight()) {
    // Everything the stored form needs (compressed scales, g_idx) comes with it.
    w = *qw;
    check_quantized_layout(w, where);
    return w;
  } else {
    std::optional<QuantSpec> spec = report ? spec_from_params(report->params) : std::nullopt;
    QT_CHECK(spec.has_value(), where, ": cannot tell how it is quantized (the '", k.backend(),
             "' kernel does not expose its QuantizedWeight and no layer report gives 'bits')");
    w.spec = *spec;
    w.shape = slot.weight_sizes().vec();
  }
  auto get = [&](const char* suffix) {
    auto it = kt.find(suffix);
    return it == kt.end() ? at::Tensor() : it->second;
  };
  w.packed = get("qweight");
  w.scale = get("scales");
  w.zero = get("qzeros");
  // Refuse to write what load_saved_model could not read back.
  check_quantized_layout(w, where);
  return w;
}

/// `t` in `dtype` when that holds it exactly, else `t` as it is: a float
/// tensor the model changed (a norm that absorbed AWQ's scales) must not be
/// rounded, or the saved model would no longer reproduce its accuracy.
at::Tensor in_source_dtype(const at::Tensor& t, at::ScalarType dtype) {
  if (t.scalar_type() != at::kFloat || dtype == at::kFloat) return t;
  const at::Tensor narrow = t.to(dtype);
  return at::equal(narrow.to(at::kFloat), t) ? narrow : t;
}

}  // namespace

void save_model(const Model& model, const fs::path& dir_in, const QuantConfig& config,
                const std::vector<LayerReport>& reports, const Json& metrics) {
  const fs::path dir = without_trailing_slash(dir_in);
  const std::string where = dir.string();
  QT_CHECK(!dir.empty(), "save: empty output directory");

  const at::ScalarType source_dtype = model.source_dtype();
  const std::string source_dtype_name = torch_dtype_name(source_dtype);
  QT_CHECK(!source_dtype_name.empty(), where, ": model ", model.spec(), " has source dtype ",
           source_dtype, "; a saved model keeps float32, float16 or bfloat16");
  std::map<std::string, at::Tensor> tensors;
  auto add = [&](const std::string& name, const at::Tensor& t) {
    QT_CHECK(tensors.emplace(name, t).second, where, ": two tensors would be saved as '", name,
             "'");
  };
  Json layers = Json::object();
  for (const LayerSlot* slot : model.layers()) {
    const std::string& name = slot->name();
    const LayerKernel& k = *slot->kernel();
    const LayerReport* report = nullptr;
    for (const auto& r : reports)
      if (r.name == name) report = &r;
    const std::map<std::string, at::Tensor> kt = k.tensors();
    const bool quantized = slot->quantized() || k.quantized_weight() != nullptr;

    Json entry = Json::object();
    entry["kind"] = to_string(slot->kind());
    entry["quantized"] = quantized;
    entry["backend"] = k.backend();
    entry["backend_detail"] = k.backend_detail();
    entry["shape"] = slot->weight_sizes().vec();
    if (quantized) {
      const QuantizedWeight w = saved_weight(*slot, report, kt, where + ": layer '" + name + "'");
      entry["algorithm"] = config.algorithm;
      entry["shape"] = w.shape;
      entry.update(spec_to_json(w.spec));
      // An int8 layer's input quantization: flags here, scale and zero point as tensors.
      if (const auto* ik = dynamic_cast<const Int8Kernel*>(&k))
        entry["int8"] = {{"dynamic", ik->int8_layer().input.dynamic},
                         {"signed", ik->int8_layer().input.is_signed}};
    }
    if (report) {
      entry["params"] = report->params;
      entry["backend_reason"] = report->backend_reason;
    }
    for (const auto& [suffix, t] : kt)
      add(name + "." + suffix,
          suffix == "weight" || suffix == "bias" ? in_source_dtype(t, source_dtype) : t);
    if (slot->input_multiplier().defined())
      add(name + ".input_multiplier", slot->input_multiplier());
    layers[name] = std::move(entry);
  }
  for (const auto& [name, t] : model.extra_tensors()) add(name, in_source_dtype(t, source_dtype));

  Json qconfig = Json::object();
  qconfig["format"] = kQconfigFormat;
  qconfig["format_version"] = kQconfigFormatVersion;
  qconfig["model"] = model.spec();
  qconfig["source_dtype"] = source_dtype_name;
  qconfig["quant_config"] = config.to_json();
  qconfig["layers"] = std::move(layers);
  qconfig["metrics"] = metrics.is_null() ? Json::object() : metrics;

  std::error_code ec;
  const bool exists = fs::exists(dir, ec);
  if (exists) {
    QT_CHECK(fs::is_directory(dir, ec), where, ": exists and is not a directory");
    // Replacing deletes the old directory: only ever one of ours, or an empty one.
    QT_CHECK(is_saved_model_dir(dir) || fs::is_empty(dir, ec), where,
             ": exists and is not a saved qtune model; refusing to replace it");
  }
  fs::path parent = dir.parent_path();
  if (parent.empty()) parent = ".";
  fs::create_directories(parent, ec);
  QT_CHECK(!ec, parent.string(), ": cannot create directory: ", ec.message());

  // Built beside the target and renamed into place, so a crash mid-save never
  // leaves a half-written model under the real name.
  const std::string stem = "." + dir.filename().string() + ".";
  const std::string pid = std::to_string(::getpid());
  const fs::path tmp = parent / (stem + "tmp-" + pid);
  fs::remove_all(tmp, ec);
  fs::create_directory(tmp, ec);
  QT_CHECK(!ec, tmp.string(), ": cannot create directory: ", ec.message());
  try {
    write_safetensors(tmp / kTensorsFile, tensors, {{"format", kQconfigFormat}});
    model.save_files(tmp);
    write_text_file(tmp / kQconfigFile, qconfig.dump(2) + "\n");
    if (exists) {
      const fs::path old = parent / (stem + "old-" + pid);
      fs::remove_all(old);
      fs::rename(dir, old);
      fs::rename(tmp, dir);
      fs::remove_all(old);
    } else {
      fs::rename(tmp, dir);
    }
  } catch (const fs::filesystem_error& e) {
    fs::remove_all(tmp, ec);
    throw Error(where + ": cannot save: " + e.what());
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
}

bool is_saved_model_dir(const fs::path& dir) {
  std::error_code ec;
  return fs::is_directory(dir, ec) && fs::is_regular_file(dir / kQconfigFile, ec);
}

ModelPtr load_saved_model(const fs::path& dir, SavedModelInfo* info,
                          const std::string& backend_override) {
  const std::string where = dir.string();
  std::error_code ec;
  QT_CHECK(fs::is_directory(dir, ec), where, ": no such directory (expected a saved qtune model)");
  const fs::path qpath = dir / kQconfigFile;
  const std::string qfile = qpath.string();
  QT_CHECK(fs::is_regular_file(qpath, ec), where, ": not a saved qtune model (no ", kQconfigFile,
           ")");

  Qconfig qc;
  {
    std::ifstream in(qpath, std::ios::binary);
    QT_CHECK(in, qfile, ": cannot open: ", std::strerror(errno));
    std::stringstream text;
    text << in.rdbuf();
    qc = parse_qconfig(text.str(), qfile);
  }
  const std::string& spec = qc.model_spec;

  const fs::path tpath = dir / kTensorsFile;
  const std::string tfile = tpath.string();
  std::map<std::string, at::Tensor> tensors = read_safetensors(tpath).tensors;

  struct QuantizedLayer {
    std::string name;
    LayerKind kind;
    std::string backend;
    QuantizedWeight weight;
    std::optional<ActivationQuant> int8;  ///< set for an int8 (W8A8) layer
  };
  std::vector<QuantizedLayer> quantized;
  for (const QconfigLayer& entry : qc.quantized) {
    const std::string& name = entry.name;
    QuantizedLayer l;
    l.name = name;
    l.kind = layer_kind_from_string(entry.kind);
    l.backend = entry.backend;
    if (entry.int8) {
      ActivationQuant a;
      a.dynamic = entry.int8_dynamic;
      a.is_signed = entry.int8_signed;
      const auto s = take_tensor(tensors, name + ".input_scale");
      const auto z = take_tensor(tensors, name + ".input_zero_point");
      QT_CHECK(s && z && s->numel() == 1 && z->numel() == 1, tfile, ": int8 layer '", name,
               "' needs one-element tensors '", name, ".input_scale' and '", name,
               ".input_zero_point'");
      a.scale = s->to(at::kFloat).item<float>();
      a.zero_point = z->to(at::kInt).item<int32_t>();
      l.int8 = a;
    }
    l.weight.spec = entry.spec;
    l.weight.shape = entry.shape;
    std::map<std::string, at::Tensor> parts;
    for (const std::string& suffix : QuantizedWeight::tensor_suffixes())
      if (auto t = take_tensor(tensors, name + "." + suffix)) parts[suffix] = *t;
    QT_CHECK(parts.count("qweight") && (parts.count("scales") || parts.count("scales_q")), tfile,
             ": quantized layer '", name, "' needs tensors '", name, ".qweight' and '", name,
             ".scales'");
    l.weight.set_tensors(parts);
    check_quantized_layout(l.weight, tfile + ": layer '" + name + "'");
    l.weight.decode_params();
    // build_model wants every layer's weight; its values stay in the quantized
    // kernel installed below, not also in fp32 beside it.
    tensors[name + ".weight"] = LayerSlot::weight_held_by_kernel(l.weight.shape);
    quantized.push_back(std::move(l));
  }

  std::map<std::string, at::Tensor> multipliers;
  for (auto it = tensors.begin(); it != tensors.end();) {
    static const std::string kSuffix = ".input_multiplier";
    const std::string& n = it->first;
    if (n.size() > kSuffix.size() &&
        n.compare(n.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0) {
      multipliers[n.substr(0, n.size() - kSuffix.size())] = it->second;
      it = tensors.erase(it);
    } else {
      ++it;
    }
  }
  // A self-contained save holds the language model's config.json and tokenizer,
  // or the TorchScript module; an older one leaves them in the source the spec names.
  const fs::path own_files =
      is_hf_checkpoint_dir(dir) || fs::is_regular_file(dir / kTorchScriptFile) ? dir : fs::path();
  ModelPtr model;
  try {
    model = build_model(spec, tensors, default_cache_dir(), own_files);
  } catch (const Error& e) {
    throw Error(tfile + ": " + e.what());
  }
  for (const auto& [name, m] : multipliers) {
    LayerSlot* slot = nullptr;
    for (LayerSlot* s : model->layers())
      if (s->name() == name) slot = s;
    QT_CHECK(slot != nullptr, tfile, ": '", name, ".input_multiplier' names no layer of ", spec);
    const int64_t in = slot->weight_sizes()[1];
    QT_CHECK(m.dim() == 1 && m.size(0) == in && m.scalar_type() == at::kFloat, tfile, ": '", name,
             ".input_multiplier' must be float32 [", in, "], got ", m.scalar_type(), " ",
             m.sizes());
    slot->set_input_multiplier(m);
  }
  for (QuantizedLayer& l : quantized) {
    const std::string lw = qfile + ": layers." + l.name;
    LayerSlot* slot = nullptr;
    for (LayerSlot* s : model->layers())
      if (s->name() == l.name) slot = s;
    QT_CHECK(slot != nullptr, lw, ": model ", spec, " has no such layer");
    QT_CHECK(slot->kind() == l.kind, lw, ".kind: the model's layer is ", to_string(slot->kind()),
             ", the file says ", to_string(l.kind));
    QT_CHECK(slot->weight_sizes() == at::IntArrayRef(l.weight.shape), lw,
             ".shape: the model's layer has weight shape ", slot->weight_sizes());
    if (!backend_override.empty()) {
      // Another backend than the saved one: what it computes may differ in the
      // last bits (or, for an int8-activation path, within its tolerance), so
      // the caller must not claim the saved accuracy for it.
      std::optional<Int8Layer> int8;
      if (l.int8) {
        int8 = Int8Layer{std::move(l.weight), *l.int8, slot->bias()};
        check_int8_layer(l.kind, *int8, lw);
      }
      try {
        if (int8) {
          const Backend& b = choose_backend(backend_override, l.kind, *int8, nullptr);
          slot->set_kernel(b.make_kernel(l.kind, std::move(*int8), slot->geometry()));
        } else {
          const Backend& b = choose_backend(backend_override, l.kind, l.weight.spec, nullptr);
          slot->set_kernel(
              b.make_kernel(l.kind, std::move(l.weight), slot->bias(), slot->geometry()));
        }
      } catch (const Error& e) {
        throw Error(where + ": layer '" + l.name + "': " + e.what());
      }
      continue;
    }
    if (l.int8) {
      const Backend* b8 = nullptr;
      try {
        b8 = &backend_by_name(l.backend);
      } catch (const Error& e) {
        throw Error(lw + ".backend: " + e.what());
      }
      Int8Layer layer{std::move(l.weight), *l.int8, slot->bias()};
      check_int8_layer(l.kind, layer, lw);
      std::string why;
      // As below: only the backend that was measured reproduces the saved accuracy exactly.
      QT_CHECK(b8->supports(l.kind, layer, &why), lw, ": int8 backend '", l.backend,
               "' cannot run this layer here (", why, ")");
      slot->set_kernel(b8->make_kernel(l.kind, std::move(layer), slot->geometry()));
      continue;
    }
    const Backend* backend = nullptr;
    try {
      backend = &backend_by_name(l.backend);
    } catch (const Error& e) {
      throw Error(lw + ".backend: " + e.what());
    }
    std::string reason;
    // Another backend could run it, but not bit-identically to what was saved and measured.
    QT_CHECK(backend->supports(l.kind, l.weight.spec, &reason), lw, ": backend '", l.backend,
             "' cannot run this layer here (", reason, ")");
    slot->set_kernel(
        backend->make_kernel(l.kind, std::move(l.weight), slot->bias(), slot->geometry()));
  }
  if (info) {
    info->model_spec = spec;
    info->qconfig = std::move(qc.json);
    info->files_dir = own_files.empty() ? model_files_dir(spec) : own_files;
  }
  return model;
}

int64_t model_storage_bytes(const Model& model) {
  int64_t bytes = 0;
  for (const LayerSlot* slot : model.layers()) bytes += slot->kernel()->storage_bytes();
  for (const auto& [name, t] : model.extra_tensors()) bytes += t.numel() * t.element_size();
  return bytes;
}

}  // namespace qtune

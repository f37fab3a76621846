#include "tuner/auto_space.h"

#include "backends/backend_list.h"
#include "common/error.h"
#include "quantizers/woq_common.h"

namespace qtune {

const std::vector<std::string>& auto_space_names() {
  static const std::vector<std::string> kNames = {"auto", "auto-woq", "auto-int8"};
  return kNames;
}

namespace {

Json list(std::initializer_list<Json> values) {
  Json out = Json::array();
  for (const Json& v : values) out.push_back(v);
  return out;
}

// Backends that run this weight-only spec on every layer kind of the model.
std::vector<std::string> woq_backends(const QuantSpec& spec, bool has_conv) {
  std::vector<std::string> out;
  for (const Backend& b : backends()) {
    std::string why;
    if (!b.supports(LayerKind::kLinear, spec, &why)) continue;
    if (has_conv && !b.supports(LayerKind::kConv2d, spec, &why)) continue;
    out.push_back(b.name);
  }
  return out;
}

std::vector<std::string> int8_backends() {
  std::vector<std::string> out;
  for (const Backend& b : backends())
    if (b.runs_int8()) out.push_back(b.name);
  return out;
}

// One block per (bits, group_size, scheme): backends differ by spec. `knobs`
// are the algorithm's own lists, crossed inside the block.
void add_woq(std::vector<AlgorithmBlock>& out, const std::string& algorithm, const Json& knobs,
             bool has_scheme, bool has_conv) {
  for (int bits : {2, 3, 4, 8})
    for (int group : {32, 128, -1})
      for (const char* scheme : {"sym", "asym"}) {
        if (!has_scheme && std::string(scheme) == "asym") continue;
        AlgorithmBlock b;
        b.algorithm = algorithm;
        b.params = Json::object();
        b.params["bits"] = bits;
        b.params["group_size"] = group;
        if (has_scheme) b.params["scheme"] = scheme;
        // HQQ has no scheme: its zero point is a float, always there.
        QuantSpec spec = woq_spec({{"bits", bits},
                                   {"group_size", group},
                                   {"scheme", has_scheme ? scheme : "asym"},
                                   {"use_full_range", false},
                                   {"dtype", "int"}});
        spec.float_zero = !has_scheme;
        b.backends = woq_backends(spec, has_conv);
        for (const auto& [k, v] : knobs.items()) b.params[k] = v;
        if (!b.backends.empty()) out.push_back(std::move(b));
      }
}

}  // namespace

std::vector<AlgorithmBlock> auto_search_space(const std::string& name, bool has_conv) {
  bool known = false;
  for (const auto& n : auto_space_names()) known = known || n == name;
  QT_ASSERT(known, "unknown auto space ", name);
  const bool woq = name != "auto-int8", int8 = name != "auto-woq";
  std::vector<AlgorithmBlock> out;
  if (woq) {
    add_woq(out, "rtn", {{"use_mse_search", list({false, true})}}, true, has_conv);
    add_woq(out, "gptq", {{"act_order", list({false, true})}}, true, has_conv);
    add_woq(out, "awq", {{"use_auto_clip", list({true, false})}}, true, has_conv);
    add_woq(out, "hqq", {{"quant_scale", list({false, true})}}, false, has_conv);
    add_woq(out, "teq", Json::object(), true, has_conv);
    add_woq(out, "autoround", Json::object(), true, has_conv);
  }
  if (int8) {
    const std::vector<std::string> be = int8_backends();
    auto block = [&](const std::string& algorithm, Json params) {
      AlgorithmBlock b;
      b.algorithm = algorithm;
      b.params = std::move(params);
      b.backends = be;
      out.push_back(std::move(b));
    };
    block("static", {{"act_algo", list({"minmax", "moving_average", "percentile", "kl", "mse"})}});
    block("dynamic", {{"w_granularity", list({"per_channel", "per_tensor"})}});
    block("smoothquant",
          {{"auto_alpha", list({false, true})}, {"act_algo", list({"minmax", "kl"})}});
  }
  if (name == "auto") {
    AlgorithmBlock b;
    b.algorithm = "qat";
    b.params = {{"target", list({"int8", "w4"})}};
    out.push_back(std::move(b));
  }
  return out;
}

}  // namespace qtune

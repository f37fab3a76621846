#include "models/torchscript/torchscript_model.h"

#include <torch/csrc/jit/passes/constant_propagation.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/inliner.h>
#include <torch/csrc/jit/python/update_graph_executor_opt.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/csrc/jit/runtime/graph_iterator.h>
#include <torch/library.h>
#include <torch/script.h>

#include <deque>
#include <map>

#include "common/error.h"

namespace qtune {

namespace {

namespace fs = std::filesystem;
namespace jit = torch::jit;

constexpr const char* kPrefix = "torchscript:";

/// The module with its forward graph rewritten; shared by a model's clones,
/// whose own slots the graph's qtune::layer calls find through `active`.
struct Rewritten {
  jit::Module module;
};

class TorchScriptModel;

/// The model whose forward runs on this thread: qtune::layer's slot table.
thread_local const TorchScriptModel* active = nullptr;

at::Tensor run_active_layer(const at::Tensor& x, int64_t index);

class TorchScriptModel final : public Model {
 public:
  TorchScriptModel(std::string spec, fs::path file, std::shared_ptr<const Rewritten> graph,
                   std::vector<LayerSlot> slots)
      : spec_(std::move(spec)),
        file_(std::move(file)),
        graph_(std::move(graph)),
        slots_(std::move(slots)) {}

  std::string spec() const override { return spec_; }

  at::Tensor forward(const at::Tensor& input) const override {
    struct Active {
      const TorchScriptModel* saved = active;
      explicit Active(const TorchScriptModel* m) { active = m; }
      ~Active() { active = saved; }
    } scope(this);
    // The executor's optimizations (profiling, fusion) are off: the graph
    // computes what its ops say, the same on every call and thread count.
    jit::GraphOptimizerEnabledGuard plain(false);
    jit::Module module = graph_->module;
    try {
      const c10::IValue out = module.forward({input});
      QT_CHECK(out.isTensor(), "model ", spec_, ": forward returned ", out.tagKind(),
               ", expected a tensor of logits");
      return out.toTensor();
    } catch (const c10::Error& e) {
      const std::string what = e.what_without_backtrace();
      throw Error("model " + spec_ + ": forward failed: " + what.substr(0, what.find('\n')));
    }
  }

  std::vector<LayerSlot*> layers() override {
    std::vector<LayerSlot*> out;
    for (LayerSlot& s : slots_) out.push_back(&s);
    return out;
  }

  std::unique_ptr<Model> clone() const override {
    std::vector<LayerSlot> slots = slots_;
    for (LayerSlot& s : slots) s.clear_capture();
    return std::make_unique<TorchScriptModel>(spec_, file_, graph_, std::move(slots));
  }

  void save_files(const fs::path& dir) const override {
    std::error_code ec;
    fs::copy_file(file_, dir / kTorchScriptFile, fs::copy_options::overwrite_existing, ec);
    QT_CHECK(!ec, (dir / kTorchScriptFile).string(), ": cannot copy ", file_.string(), ": ",
             ec.message());
  }

  at::Tensor run_layer(int64_t index, const at::Tensor& x) const {
    QT_CHECK(index >= 0 && index < static_cast<int64_t>(slots_.size()), "model ", spec_,
             ": the graph calls layer ", index, " of ", slots_.size());
    return slots_[static_cast<size_t>(index)](x);
  }

 private:
  std::string spec_;
  fs::path file_;
  std::shared_ptr<const Rewritten> graph_;
  std::vector<LayerSlot> slots_;
};

at::Tensor run_active_layer(const at::Tensor& x, int64_t index) {
  QT_CHECK(active != nullptr, "qtune::layer called outside a TorchScript model's forward");
  return active->run_layer(index, x);
}

TORCH_LIBRARY(qtune, m) { m.def("layer(Tensor x, int index) -> Tensor", run_active_layer); }

/// The attribute path of `v` from the graph's `self` ("features.0.weight"),
/// or empty when `v` is not read from a submodule attribute.
std::deque<std::string> attribute_path(jit::Value* v, jit::Value* self) {
  std::deque<std::string> path;
  while (v != self) {
    jit::Node* n = v->node();
    if (n->kind() != c10::prim::GetAttr) return {};
    path.push_front(n->s(c10::attr::name));
    v = n->input(0);
  }
  return path;
}

c10::IValue attribute(const jit::Module& module, const std::deque<std::string>& path) {
  jit::Module m = module;
  for (size_t i = 0; i + 1 < path.size(); ++i) m = m.attr(path[i]).toModule();
  return m.attr(path.back());
}

std::string join(const std::deque<std::string>& path, size_t count) {
  std::string out;
  for (size_t i = 0; i < count; ++i) out += (i ? "." : "") + path[i];
  return out;
}

std::vector<int64_t> int_list(jit::Node* n, size_t input, const std::string& where) {
  const c10::optional<c10::IValue> v = jit::toIValue(n->input(input));
  QT_CHECK(v && v->isIntList(), where, ": argument ", input,
           " of the convolution is not a constant int list");
  return v->toIntVector();
}

int64_t int_arg(jit::Node* n, size_t input, const std::string& where) {
  const c10::optional<c10::IValue> v = jit::toIValue(n->input(input));
  QT_CHECK(v && v->isInt(), where, ": argument ", input, " of the convolution is not a constant");
  return v->toInt();
}

bool bool_arg(jit::Node* n, size_t input, const std::string& where) {
  const c10::optional<c10::IValue> v = jit::toIValue(n->input(input));
  QT_CHECK(v && v->isBool(), where, ": argument ", input, " of the convolution is not a constant");
  return v->toBool();
}

}  // namespace

bool is_torchscript_spec(const std::string& spec) { return spec.rfind(kPrefix, 0) == 0; }

fs::path torchscript_file(const std::string& spec) {
  QT_CHECK(is_torchscript_spec(spec), "not a TorchScript spec: ", spec);
  return spec.substr(std::string(kPrefix).size());
}

std::string torchscript_spec(const fs::path& file) { return kPrefix + file.string(); }

ModelPtr load_torchscript_model(const std::string& spec, const fs::path& file) {
  const fs::path path = file.empty() ? torchscript_file(spec) : file;
  QT_CHECK(!path.empty(), "model spec 'torchscript:' needs a file (torchscript:FILE.pt)");
  std::error_code ec;
  QT_CHECK(fs::is_regular_file(path, ec), path.string(), ": no such TorchScript file");
  auto rewritten = std::make_shared<Rewritten>();
  try {
    rewritten->module = jit::load(path.string());
  } catch (const c10::Error& e) {
    const std::string what = e.what_without_backtrace();
    throw Error(path.string() + ": not a TorchScript file (" + what.substr(0, what.find('\n')) +
                ")");
  }
  jit::Module& module = rewritten->module;
  module.eval();
  QT_CHECK(module.find_method("forward").has_value(), path.string(), ": the module has no forward");
  std::shared_ptr<jit::Graph> graph = module.get_method("forward").graph();
  jit::Inline(*graph);
  jit::ConstantPropagation(graph);
  jit::Value* self = graph->inputs().at(0);

  std::vector<LayerSlot> slots;
  std::map<std::string, int64_t> index_of;  // a layer called twice is one slot
  std::vector<jit::Node*> replaced;
  jit::DepthFirstGraphNodeIterator it(graph);
  for (jit::Node* n = it.next(); n != nullptr; n = it.next()) {
    const bool linear = n->kind() == c10::aten::linear;
    const bool conv = n->kind() == c10::aten::conv2d || n->kind() == c10::aten::_convolution;
    if (!linear && !conv) continue;
    const std::deque<std::string> attr = attribute_path(n->input(1), self);
    if (attr.empty() || attr.back() != "weight") continue;  // a computed weight stays ATen's
    const std::string name = join(attr, attr.size() - 1);
    const std::string where = path.string() + ": layer '" + name + "'";
    at::Tensor w = attribute(module, attr).toTensor().detach();
    QT_CHECK(w.dim() == (linear ? 2 : 4), where, ": weight of shape ", w.sizes(), " for a ",
             linear ? "Linear" : "Conv2d");
    std::optional<at::Tensor> b;
    const c10::optional<c10::IValue> bias_value = jit::toIValue(n->input(2));
    if (!(bias_value && bias_value->isNone())) {
      const std::deque<std::string> bias_path = attribute_path(n->input(2), self);
      QT_CHECK(!bias_path.empty(), where, ": its bias is computed in the graph, not an attribute");
      b = attribute(module, bias_path).toTensor().detach().to(at::kFloat).contiguous().clone();
    }
    ConvGeometry g;
    if (conv) {
      g.stride = int_list(n, 3, where);
      g.padding = int_list(n, 4, where);
      g.dilation = int_list(n, 5, where);
      if (n->kind() == c10::aten::_convolution) {
        QT_CHECK(!bool_arg(n, 6, where), where, ": a transposed convolution is not a Conv2d");
        g.groups = int_arg(n, 8, where);
      } else {
        g.groups = int_arg(n, 6, where);
      }
    }
    auto [slot, fresh] = index_of.emplace(name, static_cast<int64_t>(slots.size()));
    if (fresh)
      slots.emplace_back(name, linear ? LayerKind::kLinear : LayerKind::kConv2d,
                         w.to(at::kFloat).contiguous().clone(), std::move(b), g);
    jit::WithInsertPoint here(n);
    jit::Value* y = graph->insert(c10::Symbol::fromQualString("qtune::layer"),
                                  {n->input(0), jit::NamedValue(slot->second)});
    y->setType(n->output()->type());
    n->output()->replaceAllUsesWith(y);
    replaced.push_back(n);
  }
  for (jit::Node* n : replaced) n->destroy();
  jit::EliminateDeadCode(graph);
  QT_CHECK(!slots.empty(), path.string(),
           ": no Linear or Conv2d layer (aten::linear or aten::conv2d on a submodule's weight) "
           "to quantize");
  return std::make_unique<TorchScriptModel>(spec, path, std::move(rewritten), std::move(slots));
}

}  // namespace qtune

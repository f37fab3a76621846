// The tuning config's YAML layer (tuner/yaml_document.h): syntax, duplicate
// keys, nesting and alias bounds, and the typing of every scalar. The keys
// themselves are checked against qtune's registries of algorithms, backends
// and models, which need LibTorch; tests/integration/bad_input_test.cpp covers them.
#include <string>

#include "fuzz/fuzz_support.h"
#include "tuner/yaml_document.h"

namespace {

void visit(const YAML::Node& n) {
  if (n.IsScalar() || n.IsNull()) {
    (void)qtune::yaml_scalar(n);
  } else if (n.IsSequence()) {
    for (const auto& c : n) visit(c);
  } else if (n.IsMap()) {
    for (const auto& kv : n) {
      visit(kv.first);
      visit(kv.second);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  qtune::fuzz::expect_only_qtune_errors(
      [&] { visit(qtune::load_yaml_document(text, "fuzz.yaml")); });
  return 0;
}

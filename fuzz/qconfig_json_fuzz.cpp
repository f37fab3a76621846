// A saved model's qconfig.json (storage/qconfig_file.h, which reads each
// layer's QuantSpec through storage/quant_spec_json.h). An accepted layer
// spec must survive spec_to_json -> spec_from_json unchanged.
#include <string>

#include "fuzz/fuzz_support.h"
#include "storage/qconfig_file.h"
#include "storage/quant_spec_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  qtune::fuzz::expect_only_qtune_errors([&] {
    const auto q = qtune::storage_detail::parse_qconfig(text, "qconfig.json");
    for (const auto& l : q.quantized) {
      const qtune::Json j = qtune::storage_detail::spec_to_json(l.spec);
      const qtune::Json again = qtune::storage_detail::spec_to_json(
          qtune::storage_detail::spec_from_json(j, "round trip"));
      qtune::fuzz::require(j == again, "spec_from_json(spec_to_json(spec)) == spec");
    }
  });
  return 0;
}

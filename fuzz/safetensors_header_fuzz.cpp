// The safetensors header of a whole file: length field, JSON, every entry.
// Accepted entries must lie inside the data section and not overlap.
#include <string>

#include "fuzz/fuzz_support.h"
#include "models/safetensors_header.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 8) return 0;
  qtune::fuzz::expect_only_qtune_errors([&] {
    const uint64_t len = qtune::safetensors_header_length("fuzz.safetensors", data, size);
    const std::string text(reinterpret_cast<const char*>(data) + 8, len);
    const qtune::SafetensorsHeader h =
        qtune::parse_safetensors_header("fuzz.safetensors", text, size);
    for (const auto& e : h.entries) {
      qtune::fuzz::require(e.begin <= e.end && h.data_start + e.end <= size,
                           "an accepted tensor lies inside the file");
      uint64_t numel = 1;
      for (int64_t d : e.shape) numel *= static_cast<uint64_t>(d);
      qtune::fuzz::require(numel * static_cast<uint64_t>(e.dtype->itemsize) == e.end - e.begin,
                           "an accepted tensor's bytes equal numel * itemsize");
    }
  });
  return 0;
}

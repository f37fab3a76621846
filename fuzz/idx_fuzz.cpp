// An IDX file (plain or gzip'd), as the Fashion-MNIST loader reads it.
#include "fuzz/fuzz_support.h"
#include "models/idx_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto file = qtune::fuzz::write_scratch("data.idx", data, size);
  qtune::fuzz::expect_only_qtune_errors([&] {
    const qtune::IdxArray a = qtune::read_idx_file(file);
    size_t numel = 1;
    for (int64_t d : a.dims) numel *= static_cast<size_t>(d);
    qtune::fuzz::require(a.data.size() == numel, "an accepted array holds product(dims) bytes");
  });
  return 0;
}

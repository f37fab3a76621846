// A NumPy .npy file, as a classifier's images or labels are read.
#include "fuzz/fuzz_support.h"
#include "models/npy_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  qtune::fuzz::expect_only_qtune_errors([&] {
    const qtune::NpyArray a = qtune::parse_npy(bytes, "data.npy");
    size_t numel = 1;
    for (int64_t d : a.dims) numel *= static_cast<size_t>(d);
    qtune::fuzz::require(a.data.size() == numel * static_cast<size_t>(a.itemsize),
                         "an accepted array holds product(dims) * itemsize bytes");
  });
  return 0;
}

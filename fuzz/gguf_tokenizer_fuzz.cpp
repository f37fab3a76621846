// The GGUF tokenizer metadata that `qtune export --format gguf` builds from a
// tokenizer.json, written by the GGUF writer and read back by the test suite's
// independent reader (tests/storage/gguf_reader.h): qtune has no GGUF reader
// of its own. Whatever the writer accepts must parse, with one token per id.
#include <stdexcept>
#include <string>

#include "fuzz/fuzz_support.h"
#include "models/text/bpe_tokenizer.h"
#include "storage/formats/gguf_tokenizer.h"
#include "tests/storage/gguf_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto file = qtune::fuzz::write_scratch("tokenizer.json", data, size);
  qtune::fuzz::expect_only_qtune_errors([&] {
    const auto tok = qtune::BpeTokenizer::from_file(file);
    // A model may have more ids than its tokenizer: the writer pads them.
    const int64_t vocab = tok->vocab_size() + (size > 0 ? data[0] % 3 : 0);
    qtune::GgufWriter w;
    qtune::add_gguf_tokenizer(w, file.parent_path(), vocab);
    qtune::testing::GgufFile g;
    try {
      g = qtune::testing::parse_gguf(w.bytes());
    } catch (const std::runtime_error& e) {
      std::fprintf(stderr, "fuzz: the GGUF writer wrote a file the reader refuses: %s\n", e.what());
      std::abort();
    }
    qtune::fuzz::require(
        static_cast<int64_t>(g.at("tokenizer.ggml.tokens").strings.size()) == vocab,
        "one GGUF token per model id");
  });
  return 0;
}

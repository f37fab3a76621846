// A byte-level BPE tokenizer.json. An accepted tokenizer must encode to ids
// in [0, vocab_size) and decode them back to the same bytes, as
// models/text/tokenizer.h promises for byte-level BPE.
#include <string>

#include "fuzz/fuzz_support.h"
#include "models/text/bpe_tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto file = qtune::fuzz::write_scratch("tokenizer.json", data, size);
  qtune::fuzz::expect_only_qtune_errors([&] {
    const auto tok = qtune::BpeTokenizer::from_file(file);
    // A fixed sample plus raw bytes of the input itself (invalid UTF-8 included).
    const std::string tail(reinterpret_cast<const char*>(data) + (size > 48 ? size - 48 : 0),
                           size > 48 ? 48 : size);
    for (const std::string& text :
         {std::string("Hello, world! 123 \xc3\xa9t\xc3\xa9\n  x"), tail}) {
      const auto ids = tok->encode(text);
      for (int64_t id : ids)
        qtune::fuzz::require(id >= 0 && id < tok->vocab_size(),
                             "encode gives ids in the vocabulary");
      qtune::fuzz::require(tok->decode(ids) == text, "decode(encode(text)) == text");
    }
  });
  return 0;
}

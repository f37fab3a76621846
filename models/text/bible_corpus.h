// The King James Bible from Debian's bible-kjv, as plain text for training and
// evaluating the built-in tiny LM (no downloads).
//
// `bible -f "Gen1:1-Rev22:21"` prints one verse per line, each prefixed by its
// reference ("Ge1:1 In the beginning ..."). The reference is stripped, runs of
// whitespace inside a verse become one space, and verses are joined with "\n"
// (one verse per line, the text ends with "\n").
#pragma once

#include <cstdint>
#include <string>

namespace qtune {

/// The whole text (~4.3 MB, 31102 verses), cached per process. A missing
/// `bible` program is a qtune::Error naming the bible-kjv package.
const std::string& bible_text();

/// Strips the reference of each line of raw `bible` output and normalises
/// whitespace, as described above (exposed for tests). A non-empty line
/// without a reference is a qtune::Error quoting it.
std::string clean_bible_output(const std::string& raw);

/// A deterministic three-way split of a text.
struct TextSplits {
  std::string train;        ///< ~90%: what the tiny LM and its tokenizer learn from
  std::string calibration;  ///< ~5%: calibration windows for the quantizers
  std::string heldout;      ///< ~5%: perplexity / bits per byte are reported on this
};

/// Splits `text` (lines, as bible_text() gives) into chunks of
/// `lines_per_chunk` consecutive lines; of every 20 chunks, chunk 18 goes to
/// calibration, chunk 19 to held-out, the other 18 to train. Interleaving
/// keeps every split representative of the whole book (law, poetry,
/// prophets, gospels) while whole chunks keep the held-out text contiguous
/// enough for long perplexity windows. Each split keeps its lines' "\n".
TextSplits split_text(const std::string& text, int64_t lines_per_chunk = 32);

/// split_text(bible_text()), cached per process.
const TextSplits& bible_splits();

}  // namespace qtune

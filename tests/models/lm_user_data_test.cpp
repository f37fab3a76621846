// A language model's calibration and evaluation from the user's files
// (models/user_data.h): the documents read from text and JSON Lines, the
// perplexity over a file against a slow per-window computation whose windows
// are written out by hand, and calibration text reaching GPTQ.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "models/llama/llama_config.h"
#include "models/text/text_documents.h"
#include "models/text/tokenizer.h"
#include "models/user_data.h"
#include "quantizers/quantizer.h"
#include "tests/support/expect_error.h"
#include "tests/support/temp_dir.h"

namespace qtune {
namespace {

using testing::expect_error;
using testing::TempDir;
using testing::write_bytes;

constexpr const char* kSpec = "builtin:tiny-lm-micro";

// A few paragraphs of plain English (not the built-in bible text), long
// enough for several 16-token windows.
const char* kText =
    "The harbour was quiet that morning, and the boats lay still on the grey water.\n"
    "Gulls walked along the wall and waited for the fishermen to come back.\n"
    "\n"
    "In the village the baker opened his shop before the sun was up.\n"
    "He sold bread to the sailors and to the children on their way to school.\n"
    "\n"
    "By noon the wind had turned, and the first boats came round the point.\n";

TEST(TextDocuments, ParagraphsOrLines) {
  TempDir dir;
  write_bytes(dir / "a.txt", "one\r\ntwo\n\n  \nthree\n\n\nfour\n");
  EXPECT_EQ(read_text_documents(dir / "a.txt", false),
            (std::vector<std::string>{"one\ntwo", "three", "four"}));
  EXPECT_EQ(read_text_documents(dir / "a.txt", true),
            (std::vector<std::string>{"one", "two", "three", "four"}));
}

TEST(TextDocuments, JsonLinesField) {
  TempDir dir;
  write_bytes(dir / "a.jsonl",
              "{\"text\": \"a b\", \"id\": 1}\n\n{\"id\": 2, \"text\": \"c\\nd\"}\n");
  EXPECT_EQ(read_jsonl_documents(dir / "a.jsonl", "text"),
            (std::vector<std::string>{"a b", "c\nd"}));
}

TEST(TextDocuments, BadFilesNameTheFileAndLine) {
  TempDir dir;
  const std::string f = (dir / "f").string();
  write_bytes(f, " \n\n\t\n");
  expect_error([&] { read_text_documents(f, false); }, f + ": empty (no text)");
  expect_error([&] { read_text_file(f); }, f + ": empty (no text)");
  expect_error([&] { read_jsonl_documents(f, "text"); }, f + ": empty (no JSON line)");
  expect_error([&] { read_text_file(dir / "missing"); },
               (dir / "missing").string() + ": cannot read the data file");
  write_bytes(f, "{\"text\": \"a\"}\n{\"text\": \"b\"\n");
  expect_error([&] { read_jsonl_documents(f, "text"); }, f + ":2: not valid JSON");
  write_bytes(f, "{\"txt\": \"a\"}\n");
  expect_error([&] { read_jsonl_documents(f, "text"); }, f + ":1: no field \"text\"");
  write_bytes(f, "{\"text\": 3}\n");
  expect_error([&] { read_jsonl_documents(f, "text"); },
               f + ":1: field \"text\" must be a string, got number");
  write_bytes(f, "[1]\n");
  expect_error([&] { read_jsonl_documents(f, "text"); },
               f + ":1: expected a JSON object, got array");
}

class LmUserData : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ModelOptions mo;
    mo.cache_dir = QTUNE_TEST_CACHE_DIR;
    model_ = load_model(kSpec, mo).release();
    dir_ = new std::filesystem::path(model_files_dir(kSpec, QTUNE_TEST_CACHE_DIR));
  }
  static void TearDownTestSuite() {
    delete model_;
    delete dir_;
  }
  static TaskData data(int64_t calibration_samples, const LmDataOptions& o) {
    return load_task_data(kSpec, calibration_samples, 0, 5, QTUNE_TEST_CACHE_DIR, {}, o);
  }
  static std::vector<int64_t> encode(const std::string& text) {
    return load_tokenizer(*dir_)->encode(text);
  }

  // -sum log p(target) over the scored positions of one window, computed on
  // its own forward of [1, len] in double: the slow twin of the batched evaluator.
  static double window_nll(const std::vector<int64_t>& t, int64_t begin, int64_t len,
                           int64_t first_target) {
    at::NoGradGuard no_grad;
    const auto ids =
        at::tensor(std::vector<int64_t>(t.begin() + begin, t.begin() + begin + len), at::kLong)
            .view({1, len});
    const auto logp = at::log_softmax(model_->forward(ids)[0].to(at::kDouble), -1);
    double nll = 0;
    for (int64_t target = first_target; target <= begin + len; ++target)
      nll -= logp[target - begin - 1][t[target]].item<double>();
    return nll;
  }

  static Model* model_;
  static std::filesystem::path* dir_;
};
Model* LmUserData::model_ = nullptr;
std::filesystem::path* LmUserData::dir_ = nullptr;

// Windows (begin, inputs, first scored target) listed by hand. The convention
// (README "Your own data"): a window feeds `seqlen` tokens and each predicts
// the next; a token is scored by the first window that predicts it (Hugging
// Face's sliding-window recipe), so with stride < seqlen later windows score
// only their last `stride` targets and every token but the first counts once.
struct HandWindow {
  int64_t begin, len, first_target;
};

TEST_F(LmUserData, PerplexityOverAFileMatchesWindowsWorkedByHand) {
  TempDir dir;
  std::vector<int64_t> t = encode(kText);
  ASSERT_GE(t.size(), 50u) << "the text must give enough tokens for the windows below";
  t.resize(50);

  // The file holds exactly these 50 tokens: their text, which must re-encode to them.
  const std::string cut = load_tokenizer(*dir_)->decode(t);
  ASSERT_EQ(encode(cut), t) << "the cut text must re-encode to itself";
  write_bytes(dir / "eval50.txt", cut);

  struct Case {
    int64_t seqlen, stride, max_windows;
    std::vector<HandWindow> windows;
  };
  const std::vector<Case> cases = {
      // stride == seqlen: 50 tokens, targets 1..49; the last window is short.
      {16, 16, 0, {{0, 16, 1}, {16, 16, 17}, {32, 16, 33}, {48, 1, 49}}},
      // stride 8 < seqlen 16: overlapping inputs, each target scored once.
      {16, 8, 0, {{0, 16, 1}, {8, 16, 17}, {16, 16, 25}, {24, 16, 33}, {32, 16, 41}, {40, 9, 49}}},
      // max_windows 3 keeps (3-1)*8 + 16 + 1 = 33 tokens: targets 1..32.
      {16, 8, 3, {{0, 16, 1}, {8, 16, 17}, {16, 16, 25}}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE("seqlen " + std::to_string(c.seqlen) + " stride " + std::to_string(c.stride) +
                 " max_windows " + std::to_string(c.max_windows));
    LmDataOptions o;
    o.eval_file = (dir / "eval50.txt").string();
    o.eval_seqlen = c.seqlen;
    o.stride = c.stride;
    o.max_windows = c.max_windows;
    const EvalResult got = data(0, o).evaluate(*model_);

    double nll = 0;
    int64_t scored = 0;
    for (const HandWindow& w : c.windows) {
      nll += window_nll(t, w.begin, w.len, w.first_target);
      scored += w.begin + w.len - w.first_target + 1;
    }
    ASSERT_GT(scored, 0);
    EXPECT_EQ(got.samples, scored);
    EXPECT_EQ(got.metric, "perplexity");
    // Batched forwards (up to 8 windows) against single ones, float log_softmax
    // against double: a few float ulps per token, far below 1e-5 relative.
    EXPECT_NEAR(got.value, std::exp(nll / static_cast<double>(scored)), got.value * 1e-5);
    EXPECT_GT(got.value, 1.0);
  }
}

TEST_F(LmUserData, EvaluationFileTooShortOrWindowTooLong) {
  TempDir dir;
  write_bytes(dir / "e.txt", "The harbour was quiet.");
  LmDataOptions o;
  o.eval_file = (dir / "e.txt").string();
  o.eval_seqlen = 32;
  expect_error([&] { data(0, o); },
               o.eval_file + ": gives " + std::to_string(encode("The harbour was quiet.").size()) +
                   " tokens, fewer than one evaluation window of 32 (+1 for its last target)");
  o.eval_seqlen = 65;  // tiny-lm-micro has 64 positions
  expect_error([&] { data(0, o); },
               "evaluation seqlen must be in [2, the model's context 64], got 65");
}

// Calibration windows are slices of the documents' token stream (documents
// tokenized one by one, joined by the end-of-sequence token).
TEST_F(LmUserData, CalibrationWindowsComeFromTheDocuments) {
  TempDir dir;
  write_bytes(dir / "c.txt", kText);
  LmDataOptions o;
  o.calibration_file = (dir / "c.txt").string();
  o.calibration_seqlen = 16;
  const TaskData d = data(6, o);
  ASSERT_EQ(d.calibration.inputs.sizes().vec(), (std::vector<int64_t>{6, 16}));

  const LlamaConfig config = read_llama_config(*dir_ / "config.json");
  ASSERT_FALSE(config.eos_token_ids.empty());
  std::vector<int64_t> stream;
  for (const std::string& doc : read_text_documents(dir / "c.txt", false)) {
    if (!stream.empty()) stream.push_back(config.eos_token_ids.front());
    for (int64_t id : encode(doc)) stream.push_back(id);
  }
  for (int64_t r = 0; r < 6; ++r) {
    const auto row = d.calibration.inputs[r];
    bool found = false;
    for (size_t s = 0; s + 16 <= stream.size() && !found; ++s) {
      bool same = true;
      for (int64_t j = 0; j < 16 && same; ++j) same = row[j].item<int64_t>() == stream[s + j];
      found = same;
    }
    EXPECT_TRUE(found) << "row " << r << " is not a window of the document stream";
  }

  // The same documents as JSON Lines give the same windows.
  std::string jsonl;
  for (const std::string& doc : read_text_documents(dir / "c.txt", false))
    jsonl += Json{{"text", doc}, {"n", 1}}.dump() + "\n";
  write_bytes(dir / "c.jsonl", jsonl);
  LmDataOptions j = o;
  j.calibration_file = (dir / "c.jsonl").string();
  j.calibration_format = "jsonl";
  j.jsonl_field = "text";
  EXPECT_TRUE(at::equal(data(6, j).calibration.inputs, d.calibration.inputs));

  o.calibration_seed = 9;
  EXPECT_FALSE(at::equal(data(6, o).calibration.inputs, d.calibration.inputs))
      << "another calibration seed draws other windows";
  o.calibration_seqlen = 0;  // default: min(2048, context) = 64 tokens, more than the text has?
  if (stream.size() < 64)
    expect_error([&] { data(6, o); }, o.calibration_file + ": gives " +
                                          std::to_string(stream.size()) +
                                          " tokens, fewer than one calibration window of 64");
  else
    EXPECT_EQ(data(6, o).calibration.inputs.size(1), 64);
}

// GPTQ's result depends on the calibration text: identical text (in another
// file) gives an identical model, other text another model.
TEST_F(LmUserData, CalibrationTextReachesGptq) {
  TempDir dir;
  const std::string other =
      "Seven hundred and forty two crates of oranges arrived at the station.\n"
      "Each crate was counted twice, weighed, and stamped with a blue number.\n"
      "The clerk wrote the totals in a green ledger and locked it in a drawer.\n";
  write_bytes(dir / "a.txt", kText);
  write_bytes(dir / "a_copy.txt", kText);
  write_bytes(dir / "b.txt", other);
  QuantConfig qc;
  qc.algorithm = "gptq";
  qc.params = {{"bits", 3}, {"group_size", 32}};
  auto quantized_logits = [&](const std::string& file) {
    LmDataOptions o;
    o.calibration_file = (dir / file).string();
    o.calibration_seqlen = 16;
    const TaskData d = data(4, o);
    CalibrationData calib;
    calib.batches = d.calibration.input_batches(4);
    ModelPtr m = model_->clone();
    quantize(*m, qc, calib);
    at::NoGradGuard no_grad;
    return m->forward(at::tensor(encode("The clerk counted the boats."), at::kLong).view({1, -1}));
  };
  const at::Tensor a = quantized_logits("a.txt");
  ASSERT_GT(a.abs().sum().item<double>(), 0.0);
  EXPECT_TRUE(at::equal(a, quantized_logits("a_copy.txt")));
  EXPECT_FALSE(at::equal(a, quantized_logits("b.txt")));
}

TEST_F(LmUserData, ClassifierRefusesTextFiles) {
  LmDataOptions o;
  o.eval_file = "x.txt";
  expect_error(
      [&] { load_task_data("builtin:fmnist-cnn-tiny", 0, 10, 0, QTUNE_TEST_CACHE_DIR, {}, o); },
      "builtin:fmnist-cnn-tiny: calibration and evaluation text files are for language models");
}

}  // namespace
}  // namespace qtune

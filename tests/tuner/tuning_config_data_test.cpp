// The tuning config's user data (calibration: {text|jsonl}, evaluation:
// {perplexity|command}): every key read into the config, every misuse a
// one-line error naming the file and the field, and configs without user data
// keeping their canonical JSON (their --resume identity).
#include <gtest/gtest.h>

#include <string>

#include "common/error.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tuning_config_error.h"
#include "tuner/tuning_config.h"

namespace qtune {
namespace {

using testing::TempDir;
using testing::write_bytes;

const std::string kSpace = "search_space:\n  - algorithm: rtn\n";

using testing::tuning_config_error;

TEST(TuningConfigData, ReadsTextJsonlPerplexityAndCommand) {
  TempDir dir;
  write_bytes(dir / "c.txt", "a\n");
  write_bytes(dir / "c.jsonl", "{\"t\": \"a\"}\n");
  const std::string lm = "model: builtin:tiny-lm-micro\n";
  TuningConfig c = parse_tuning_config(lm + "calibration: {text: " + (dir / "c.txt").string() +
                                           ", split: line, samples: 100000, seqlen: 32, seed: 9}\n"
                                           "evaluation: {perplexity: " +
                                           (dir / "c.txt").string() +
                                           ", seqlen: 48, stride: 16, max_windows: 5}\n" + kSpace,
                                       "t.yaml");
  EXPECT_EQ(c.lm_data.calibration_file, (dir / "c.txt").string());
  EXPECT_EQ(c.lm_data.calibration_format, "text");
  EXPECT_TRUE(c.lm_data.one_document_per_line);
  EXPECT_EQ(c.calibration_samples, 100000) << "a file has no training split to bound samples";
  EXPECT_EQ(c.lm_data.calibration_seqlen, 32);
  EXPECT_EQ(c.lm_data.calibration_seed, 9);
  EXPECT_EQ(c.lm_data.eval_file, (dir / "c.txt").string());
  EXPECT_EQ(c.lm_data.eval_seqlen, 48);
  EXPECT_EQ(c.lm_data.stride, 16);
  EXPECT_EQ(c.lm_data.max_windows, 5);
  EXPECT_EQ(c.to_json().at("data").at("perplexity"), (dir / "c.txt").string());

  c = parse_tuning_config(lm + "calibration: {jsonl: " + (dir / "c.jsonl").string() +
                              ", field: t}\nevaluation: {command: \"sh e.sh {model_dir}\", "
                              "metric: acc, timeout_s: 2.5, higher_is_better: false}\n" +
                              kSpace,
                          "t.yaml");
  EXPECT_EQ(c.lm_data.calibration_format, "jsonl");
  EXPECT_EQ(c.lm_data.jsonl_field, "t");
  EXPECT_EQ(c.eval_command.command, "sh e.sh {model_dir}");
  EXPECT_EQ(c.eval_command.metric, "acc");
  EXPECT_EQ(c.eval_command.timeout_s, 2.5);
  EXPECT_FALSE(c.eval_command.higher_is_better);
  EXPECT_EQ(c.to_json().at("evaluation").at("command").at("metric"), "acc");
}

TEST(TuningConfigData, WithoutUserDataTheCanonicalJsonIsUnchanged) {
  const TuningConfig c = parse_tuning_config("model: builtin:tiny-lm-micro\n" + kSpace, "t.yaml");
  EXPECT_FALSE(c.to_json().contains("data"));
  EXPECT_EQ(c.to_json().at("evaluation"), (Json{{"samples", 0}}));
  EXPECT_FALSE(c.lm_data.uses_files());
  EXPECT_TRUE(c.eval_command.command.empty());
}

TEST(TuningConfigData, MisuseNamesTheField) {
  TempDir dir;
  write_bytes(dir / "c.txt", "a\n");
  const std::string f = (dir / "c.txt").string();
  const std::string lm = "model: builtin:tiny-lm-micro\n";
  EXPECT_EQ(tuning_config_error(lm + "calibration: {text: " + f + ", jsonl: " + f + "}\n" + kSpace),
            "t.yaml: calibration: give text or jsonl, not both");
  EXPECT_EQ(tuning_config_error(lm + "calibration: {text: " + f + ", field: t}\n" + kSpace),
            "t.yaml: calibration.field: only with calibration.jsonl");
  EXPECT_EQ(
      tuning_config_error(lm + "calibration: {jsonl: " + f + ", field: t, split: line}\n" + kSpace),
      "t.yaml: calibration.split: only with calibration.text");
  EXPECT_EQ(tuning_config_error(lm + "calibration: {text: " + f + ", split: words}\n" + kSpace),
            "t.yaml: calibration.split: expected one of paragraph, line, got words");
  EXPECT_EQ(tuning_config_error(lm + "calibration: {text: " + f + ", seqlen: 1}\n" + kSpace),
            "t.yaml: calibration.seqlen: expected an integer >= 2, got 1");
  EXPECT_EQ(
      tuning_config_error(lm + "calibration: {text: " + (dir / "none").string() + "}\n" + kSpace),
      "t.yaml: calibration.text: " + (dir / "none").string() + ": cannot read the data file");
  EXPECT_EQ(tuning_config_error(lm + "calibration: {text: " + dir.path().string() + "}\n" + kSpace),
            "t.yaml: calibration.text: " + dir.path().string() + ": cannot read the data file");
  EXPECT_EQ(tuning_config_error(lm + "evaluation: {perplexity: " + f + ", samples: 3}\n" + kSpace),
            "t.yaml: evaluation.samples: not with perplexity (use max_windows)");
  EXPECT_EQ(tuning_config_error(lm + "evaluation: {stride: 3}\n" + kSpace),
            "t.yaml: evaluation.stride: only with evaluation.perplexity");
  EXPECT_EQ(tuning_config_error(lm + "evaluation: {perplexity: " + f +
                                ", seqlen: 16, stride: 17}\n" + kSpace),
            "t.yaml: evaluation.stride: expected at most seqlen (16), got 17");
  EXPECT_EQ(tuning_config_error(lm + "evaluation: {perplexity: " + f +
                                ", command: x, metric: m}\n" + kSpace),
            "t.yaml: evaluation: give perplexity or command, not both");
  EXPECT_EQ(tuning_config_error(lm + "evaluation: {metric: acc}\n" + kSpace),
            "t.yaml: evaluation.metric: only with evaluation.command");
  EXPECT_EQ(tuning_config_error(lm + "evaluation: {export: gguf}\n" + kSpace),
            "t.yaml: evaluation.export: only with evaluation.command");
  EXPECT_EQ(
      tuning_config_error(lm + "evaluation: {command: x, metric: acc, export: onnx}\n" + kSpace),
      "t.yaml: evaluation.export: unknown format \"onnx\"; expected an export format "
      "(known: hf-gptq, hf-awq, gguf)");
  EXPECT_EQ(tuning_config_error("model: builtin:fmnist-cnn-tiny\n"
                                "evaluation: {command: x, metric: acc, export: gguf}\n" +
                                kSpace),
            "t.yaml: evaluation.export: the export formats hold language models; "
            "builtin:fmnist-cnn-tiny is a classifier");
  EXPECT_EQ(parse_tuning_config(
                lm + "evaluation: {command: x, metric: acc, export: hf-gptq}\n" + kSpace, "t.yaml")
                .eval_command.to_json()
                .at("export"),
            "hf-gptq");
  EXPECT_EQ(tuning_config_error(
                lm + "evaluation: {command: x, metric: acc, higher_is_better: yes}\n" + kSpace),
            "t.yaml: evaluation.higher_is_better: expected true or false, got yes");
  EXPECT_EQ(
      tuning_config_error(lm + "evaluation: {command: x, metric: acc, timeout_s: -1}\n" + kSpace),
      "t.yaml: evaluation.timeout_s: expected a number >= 0, got -1");
  EXPECT_EQ(tuning_config_error("model: builtin:fmnist-cnn-tiny\ncalibration: {text: " + f + "}\n" +
                                kSpace),
            "t.yaml: calibration.text: text data are for language models; "
            "builtin:fmnist-cnn-tiny is a classifier");
}

}  // namespace
}  // namespace qtune

// Bad input through the real binary: a one-line error naming what and where,
// exit 2 for usage errors and 1 for the rest, and nothing written.
#include <gtest/gtest.h>

#include "tests/integration/run_command.h"

namespace qtune::testing {
namespace {

int line_count(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

void expect_one_line_error(const CommandResult& r, int status, const std::string& needle) {
  EXPECT_EQ(r.status, status) << r.err;
  EXPECT_EQ(line_count(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("qtune: error: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << "expected '" << needle << "' in: " << r.err;
}

TEST(CliErrors, UnknownCommandIsUsageError) {
  expect_one_line_error(run(qtune("frobnicate")), 2, "unknown command 'frobnicate'");
}

TEST(CliErrors, UnknownFlagIsUsageError) {
  expect_one_line_error(run(qtune("eval --modle x")), 2, "unknown flag --modle");
}

TEST(CliErrors, MissingRequiredFlag) {
  expect_one_line_error(run(qtune("quantize --algorithm rtn --out /tmp/x")), 2, "--model");
}

TEST(CliErrors, NonIntegerFlag) {
  expect_one_line_error(run(qtune("bench --model builtin:fmnist-cnn-tiny --batch many")), 2,
                        "--batch expects an integer, got 'many'");
}

TEST(CliErrors, UnknownModelSpec) {
  expect_one_line_error(run(qtune("eval --model builtin:nope" + cache_flag())), 1, "builtin:nope");
}

TEST(CliErrors, DirectoryThatIsNotASavedModel) {
  auto dir = fresh_dir("notsaved");
  expect_one_line_error(run(qtune("eval --model " + dir.string())), 1, "qconfig.json");
}

TEST(CliErrors, UnknownAlgorithmInQuantize) {
  auto dir = fresh_dir("unknown-algo");
  expect_one_line_error(
      run(qtune("quantize --model builtin:fmnist-cnn-tiny --algorithm magic --out " +
                (dir / "m").string() + cache_flag())),
      1, "magic");
  EXPECT_FALSE(std::filesystem::exists(dir / "m"));
}

TEST(CliErrors, BitsOutOfRangeInQuantize) {
  auto dir = fresh_dir("bits9");
  expect_one_line_error(
      run(qtune("quantize --model builtin:fmnist-cnn-tiny --algorithm rtn --bits 9 --out " +
                (dir / "m").string() + cache_flag())),
      1, "config.params.bits: expected an integer in [1, 8], got 9");
  EXPECT_FALSE(std::filesystem::exists(dir / "m"));
}

// A tuning config error is found before anything runs: no database is created.
void expect_bad_config(const std::string& name, const std::string& yaml,
                       const std::string& needle) {
  auto dir = fresh_dir("badcfg-" + name);
  write_file(dir / "bad.yaml", yaml);
  auto r = run(qtune("tune --config " + (dir / "bad.yaml").string() + " --out " +
                     (dir / "out").string() + cache_flag()));
  expect_one_line_error(r, 1, needle);
  EXPECT_NE(r.err.find("bad.yaml"), std::string::npos) << "error must name the file: " << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "out" / "results.db"));
}

const char* kGoodSpace = "search_space:\n  - algorithm: rtn\n    params: {bits: [4]}\n";

TEST(CliErrors, MalformedYaml) {
  expect_bad_config("malformed", "model: builtin:fmnist-cnn-tiny\nsearch_space: [\n  - {",
                    "bad.yaml:");
}

TEST(CliErrors, UnknownAlgorithmInConfig) {
  expect_bad_config("algo", "search_space:\n  - algorithm: magic\n", "magic");
}

TEST(CliErrors, UnknownParameterInConfig) {
  expect_bad_config("param", "search_space:\n  - algorithm: rtn\n    params: {bitz: [4]}\n",
                    "bitz");
}

TEST(CliErrors, BitsOutOfRangeInConfig) {
  expect_bad_config("bits", "search_space:\n  - algorithm: rtn\n    params: {bits: [4, 9]}\n",
                    "search_space[0].params.bits: expected an integer in [1, 8], got 9");
}

TEST(CliErrors, GroupSizeZeroInConfig) {
  expect_bad_config("group", "search_space:\n  - algorithm: rtn\n    params: {group_size: [0]}\n",
                    "group_size");
}

TEST(CliErrors, UnknownTopLevelKey) {
  expect_bad_config("key", std::string(kGoodSpace) + "stratgy: exhaustive\n", "stratgy");
}

TEST(CliErrors, UnknownModelInConfig) {
  expect_bad_config("model", std::string("model: builtin:nope\n") + kGoodSpace, "model");
}

TEST(CliErrors, TooManyEvaluationSamplesInConfig) {
  expect_bad_config(
      "samples",
      std::string("model: builtin:fmnist-cnn-tiny\nevaluation: {samples: 20000}\n") + kGoodSpace,
      "samples");
}

TEST(CliErrors, StrayArgumentIsUsageError) {
  expect_one_line_error(run(qtune("tune my.yaml")), 2, "unexpected argument 'my.yaml'");
}

TEST(CliErrors, MissingModelDirectory) {
  expect_one_line_error(run(qtune("eval --model /nonexistent/model")), 1,
                        "no such model directory");
}

TEST(CliErrors, MissingConfigFile) {
  expect_one_line_error(run(qtune("tune --config /nonexistent/x.yaml --out /tmp/qtune-none")), 1,
                        "/nonexistent/x.yaml");
}

TEST(CliErrors, DbOnAFileThatIsNotADatabase) {
  auto dir = fresh_dir("notdb");
  write_file(dir / "junk.db", "this is not sqlite at all, just some text that is long enough");
  expect_one_line_error(run(qtune("db trials --db " + (dir / "junk.db").string())), 1, "junk.db");
}

TEST(CliErrors, DbMissingFile) {
  expect_one_line_error(run(qtune("db runs --db /nonexistent/results.db")), 1,
                        "/nonexistent/results.db");
}

TEST(CliErrors, DbUnknownQuery) {
  expect_one_line_error(run(qtune("db frob --db x.db")), 2, "frob");
}

}  // namespace
}  // namespace qtune::testing

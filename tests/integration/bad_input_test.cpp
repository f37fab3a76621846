// The catalogue of bad input (DESIGN.md "Contracts": every input is validated
// and a bad one gets a one-line error naming the file, the field and what was
// expected). Each case runs the real qtune binary on one bad input and
// checks: the exact message on stderr, the exit status (2 for a usage error, 1
// for the rest), no crash, and nothing written: no file in the case's
// directory appears or changes (so no results.db is created or touched).
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "storage/results_db.h"
#include "tests/integration/run_command.h"
#include "tests/support/npy_bytes.h"

namespace qtune::testing {
namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------- fixtures

/// A model saved by `qtune quantize` once per process; cases copy it.
const fs::path& saved_model(const std::string& spec, const std::string& name) {
  static std::map<std::string, fs::path> made;
  auto it = made.find(spec);
  if (it != made.end()) return it->second;
  const fs::path dir = fresh_dir("bad-input-saved-" + name) / "m";
  const CommandResult r = run(
      qtune("quantize --model " + spec + " --algorithm rtn --out " + dir.string() + cache_flag()));
  EXPECT_EQ(r.status, 0) << r.err;
  return made.emplace(spec, dir).first->second;
}
const fs::path& saved_cnn() { return saved_model("builtin:fmnist-cnn-tiny", "cnn"); }
const fs::path& saved_lm() { return saved_model("builtin:tiny-lm-micro", "lm"); }

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
}

/// A copy of a saved model at DIR/m.
fs::path copy_model(const fs::path& from, const fs::path& dir) {
  fs::copy(from, dir / "m", fs::copy_options::recursive);
  return dir / "m";
}

std::string le64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(v >> (8 * i));
  return s;
}

/// A safetensors file: the length field, `header` as given, then `data_bytes` zero bytes.
std::string safetensors(const std::string& header, size_t data_bytes) {
  return le64(header.size()) + header + std::string(data_bytes, '\0');
}

std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

std::string gzip(const std::string& raw) {
  uLongf n = compressBound(raw.size()) + 32;
  std::string out(n, '\0');
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  z.avail_in = static_cast<uInt>(raw.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

/// Fashion-MNIST's test split at DIR/fm, with the given images and labels files.
void fmnist_dir(const fs::path& dir, const std::string& images, const std::string& labels) {
  fs::create_directories(dir / "fm");
  write_bytes(dir / "fm" / "t10k-images-idx3-ubyte.gz", images);
  write_bytes(dir / "fm" / "t10k-labels-idx1-ubyte.gz", labels);
}

std::string idx_images(uint32_t n) {
  return gzip(std::string("\0\0\x08\x03", 4) + be32(n) + be32(28) + be32(28) +
              std::string(size_t{n} * 28 * 28, '\x10'));
}
std::string idx_labels(uint32_t n, char label = 3) {
  return gzip(std::string("\0\0\x08\x01", 4) + be32(n) + std::string(n, label));
}

void exec_sql(const fs::path& db, const std::string& sql) {
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(h, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(h);
}

/// Holds an exclusive lock on a database for as long as it lives (another process, to qtune).
class DbLock {
 public:
  explicit DbLock(const fs::path& db) {
    EXPECT_EQ(sqlite3_open(db.c_str(), &h_), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(h_, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
  }
  ~DbLock() {
    sqlite3_exec(h_, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close(h_);
  }

 private:
  sqlite3* h_ = nullptr;
};

/// A results.db as qtune creates it, with no run yet.
void qtune_db(const fs::path& db) { ResultsDb(db, ResultsDb::Mode::kReadWrite); }

// ---------------------------------------------------------------- the cases

struct Case {
  std::string name;
  std::function<void(const fs::path& dir)> setup;
  std::string args;  ///< after "qtune"; {dir} is the case's directory, {cache} the --cache-dir flag
  int status;        ///< 2 usage, 1 other
  std::string error;              ///< the exact text after "qtune: error: "; {dir} substituted
  std::string shell_prefix = "";  ///< shell commands before qtune ({dir} substituted)
  /// Lives while qtune runs (a lock held by another process).
  std::function<std::shared_ptr<void>(const fs::path& dir)> hold = nullptr;
  /// The one file a case may find written (a disk-full write), checked for integrity instead.
  std::string may_write = "";
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

const char* kSpace = "search_space:\n  - algorithm: rtn\n    params: {bits: [4]}\n";

/// A tune case: DIR/t.yaml holds `yaml`.
Case yaml_case(const std::string& name, const std::string& yaml, const std::string& error) {
  return {name, [yaml](const fs::path& d) { write_bytes(d / "t.yaml", yaml); },
          "tune --config {dir}/t.yaml --out {dir}/out {cache}", 1, error};
}

/// An eval of a saved CNN whose model.safetensors is `bytes`.
Case safetensors_case(const std::string& name, const std::string& bytes, const std::string& error) {
  return {name,
          [bytes](const fs::path& d) {
            write_bytes(copy_model(saved_cnn(), d) / "model.safetensors", bytes);
          },
          "eval --model {dir}/m {cache}", 1, error};
}

/// An eval of a saved CNN whose qconfig.json is `text`, or edited by `edit`.
Case qconfig_case(const std::string& name, std::function<void(Json&)> edit,
                  const std::string& error) {
  return {name,
          [edit](const fs::path& d) {
            const fs::path m = copy_model(saved_cnn(), d);
            Json q = Json::parse(slurp(m / "qconfig.json"));
            edit(q);
            write_bytes(m / "qconfig.json", q.dump(2));
          },
          "eval --model {dir}/m {cache}", 1, error};
}

/// An eval of a saved tiny LM whose tokenizer.json is `text`.
Case tokenizer_case(const std::string& name, const std::string& text, const std::string& error) {
  return {name,
          [text](const fs::path& d) {
            write_bytes(copy_model(saved_lm(), d) / "tokenizer.json", text);
          },
          "eval --model {dir}/m --samples 2 {cache}", 1, error};
}

/// An eval of the built-in CNN on Fashion-MNIST files at DIR/fm.
Case idx_case(const std::string& name, const std::string& images, const std::string& labels,
              const std::string& error) {
  return {name,
          [images, labels](const fs::path& d) { fmnist_dir(d, images, labels); },
          "eval --model builtin:fmnist-cnn-tiny --samples 10 {cache}",
          1,
          error,
          "QTUNE_FMNIST_DIR={dir}/fm"};
}

/// A tune case whose YAML names files in the case's directory: "{dir}" in
/// `yaml` is replaced by it when the file is written.
Case yaml_dir_case(const std::string& name, const std::string& yaml, const std::string& error,
                   const std::string& data_file = "", const std::string& data = "") {
  return {name,
          [yaml, data_file, data](const fs::path& d) {
            std::string y = yaml;
            for (size_t pos; (pos = y.find("{dir}")) != std::string::npos;)
              y.replace(pos, 5, d.string());
            write_bytes(d / "t.yaml", y);
            if (!data_file.empty()) write_bytes(d / data_file, data);
          },
          "tune --config {dir}/t.yaml --out {dir}/out {cache}", 1, error};
}

/// `qtune ARGS` with DIR/FILE holding `data` (a user's calibration or evaluation file).
Case data_file_case(const std::string& name, const std::string& file, const std::string& data,
                    const std::string& args, const std::string& error) {
  return {name, [file, data](const fs::path& d) { write_bytes(d / file, data); }, args, 1, error};
}

const std::string kNpyYaml =
    "model: builtin:fmnist-cnn-tiny\nevaluation: {npy: {dir}/x.npy, labels: "
    "{dir}/x.npy}\n" +
    std::string(kSpace);

std::vector<Case> cases() {
  const std::string huge = std::to_string(uint64_t{1} << 40);
  std::vector<Case> c = {
      // --- tuning YAML
      yaml_case("yaml_syntax", "model: [builtin:fmnist-cnn-tiny\n" + std::string(kSpace),
                "{dir}/t.yaml:2:13: malformed YAML: end of sequence flow not found"),
      yaml_case("yaml_tab_indent", "search_space:\n\t- algorithm: rtn\n",
                "{dir}/t.yaml:2:2: malformed YAML: illegal block entry"),
      yaml_case("yaml_empty_file", "",
                "{dir}/t.yaml: the file is empty (expected a mapping of tuning settings: model, "
                "search_space, ...)"),
      yaml_case("yaml_only_whitespace", "  \n\n   \n",
                "{dir}/t.yaml: the file is empty (expected a mapping of tuning settings: model, "
                "search_space, ...)"),
      yaml_case("yaml_top_level_list", "- model: builtin:fmnist-cnn-tiny\n",
                "{dir}/t.yaml: expected a mapping of tuning settings at the top level, got a list"),
      yaml_case("yaml_unknown_top_key", "modle: builtin:fmnist-cnn-tiny\n" + std::string(kSpace),
                "{dir}/t.yaml: modle: unknown key (expected one of: model, calibration, "
                "evaluation, search_space, constraints, objective, select, strategy, max_trials, "
                "timeout, trial_timeout, seed, latency, export, isolation, weights_dtype)"),
      yaml_case("yaml_weights_dtype_unknown",
                "model: builtin:tiny-lm-micro\nweights_dtype: int8\n" + std::string(kSpace),
                "{dir}/t.yaml: weights_dtype: expected float32, bfloat16 or float16, got int8"),
      yaml_case("yaml_weights_dtype_of_a_classifier",
                "model: builtin:fmnist-cnn-tiny\nweights_dtype: bf16\n" + std::string(kSpace),
                "{dir}/t.yaml: weights_dtype: 16-bit weights are for language models; "
                "builtin:fmnist-cnn-tiny keeps float32"),
      {"cli_weights_dtype_unknown", nullptr,
       "eval --model builtin:tiny-lm-micro --weights-dtype int8 {cache}", 2,
       "--weights-dtype: expected float32, bfloat16 or float16 (or fp32, bf16, fp16), got 'int8'"},
      {"cli_weights_dtype_of_a_saved_model", [](const fs::path& d) { copy_model(saved_lm(), d); },
       "eval --model {dir}/m --weights-dtype bf16 {cache}", 2,
       "{dir}/m: --weights-dtype applies to a model spec or checkpoint; a saved model loads as it "
       "was saved"},
      yaml_case(
          "yaml_unknown_nested_key",
          "model: builtin:fmnist-cnn-tiny\nconstraints: {max_loss: 0.1}\n" + std::string(kSpace),
          "{dir}/t.yaml: constraints.max_loss: unknown key (expected one of: max_accuracy_loss, "
          "loss_type, max_latency_ms, max_size_bytes, max_bits_per_weight)"),
      yaml_case("yaml_duplicate_key",
                "model: builtin:fmnist-cnn-tiny\nmodel: builtin:fmnist-cnn\n" + std::string(kSpace),
                "{dir}/t.yaml:2:1: model: given twice (first at line 1)"),
      yaml_case("yaml_duplicate_param",
                "model: builtin:fmnist-cnn-tiny\nsearch_space:\n  - algorithm: rtn\n"
                "    params: {bits: [4], bits: [8]}\n",
                "{dir}/t.yaml:4:25: bits: given twice (first at line 4)"),
      yaml_case("yaml_type_max_trials",
                "model: builtin:fmnist-cnn-tiny\nmax_trials: many\n" + std::string(kSpace),
                "{dir}/t.yaml: max_trials: expected an integer >= 1, got many"),
      yaml_case("yaml_quoted_integer",
                "model: builtin:fmnist-cnn-tiny\nsearch_space:\n  - algorithm: rtn\n"
                "    params: {bits: \"8\"}\n",
                "{dir}/t.yaml: search_space[0].params.bits: expected an integer, got \"8\""),
      yaml_case("yaml_bits_out_of_range",
                "model: builtin:fmnist-cnn-tiny\nsearch_space:\n  - algorithm: rtn\n"
                "    params: {bits: [4, 9]}\n",
                "{dir}/t.yaml: search_space[0].params.bits: expected an integer in [1, 8], got 9"),
      yaml_case("yaml_latency_runs_too_few",
                "model: builtin:fmnist-cnn-tiny\nlatency: {runs: 5}\n" + std::string(kSpace),
                "{dir}/t.yaml: latency.runs: expected an integer >= 20, got 5"),
      yaml_case("yaml_negative_timeout",
                "model: builtin:fmnist-cnn-tiny\ntimeout: -1\n" + std::string(kSpace),
                "{dir}/t.yaml: timeout: expected a number >= 0, got -1"),
      yaml_case(
          "yaml_empty_search_space", "model: builtin:fmnist-cnn-tiny\nsearch_space: []\n",
          "{dir}/t.yaml: search_space: expected a non-empty list of algorithm blocks or auto, "
          "auto-woq, auto-int8, got an empty list"),
      yaml_case("yaml_unknown_export",
                "model: builtin:fmnist-cnn-tiny\nexport: onnx\n" + std::string(kSpace),
                "{dir}/t.yaml: export: unknown format \"onnx\"; expected an export format (known: "
                "hf-gptq, hf-awq, gguf)"),
      yaml_case("yaml_huge_number",
                "model: builtin:fmnist-cnn-tiny\ntimeout: 1e999\n" + std::string(kSpace),
                "{dir}/t.yaml: timeout: expected a number >= 0, got 1e999"),
      yaml_case("yaml_alias_bomb",
                "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, "
                "*a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, "
                "*c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n",
                "{dir}/t.yaml:1:20: more than 100000 YAML nodes (aliases expanding?); a tuning "
                "config is far smaller"),
      // --- command line
      {"cli_unknown_command", nullptr, "frobnicate", 2,
       "unknown command 'frobnicate' (expected tune, quantize, eval, generate, bench, export, "
       "models or db)"},
      {"cli_unknown_flag", nullptr, "eval --modle x", 2,
       "qtune eval: unknown flag --modle (see qtune eval --help)"},
      {"cli_missing_value", nullptr, "tune --config", 2, "qtune tune: --config needs a value"},
      {"cli_not_an_integer", nullptr, "eval --model builtin:fmnist-cnn-tiny --samples ten {cache}",
       2, "qtune eval: --samples expects an integer, got 'ten'"},
      {"cli_stray_argument", nullptr, "tune extra", 2,
       "qtune tune: unexpected argument 'extra' (flags start with --; see qtune tune --help)"},
      {"cli_missing_config_file", nullptr, "tune --config {dir}/none.yaml --out {dir}/out", 1,
       "{dir}/none.yaml: cannot open the tuning config"},
      // --- safetensors
      safetensors_case("safetensors_too_short", "abc",
                       "{dir}/m/model.safetensors: not a safetensors file (3 bytes, the 8-byte "
                       "header length is missing)"),
      safetensors_case("safetensors_header_past_file", le64(4096) + "{}",
                       "{dir}/m/model.safetensors: header length 4096 exceeds the file (2 bytes "
                       "after the length field)"),
      safetensors_case(
          "safetensors_header_not_json", safetensors("{\"a\": ", 0),
          "{dir}/m/model.safetensors: header is not valid JSON ([json.exception.parse_error.101] "
          "parse error at line 1, column 7: syntax error while parsing value - unexpected end of "
          "input; expected '[', '{', or a literal)"),
      safetensors_case("safetensors_offsets_out_of_file",
                       safetensors(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8),
                       "{dir}/m/model.safetensors: tensor 'w': data_offsets [0,16] exceed the data "
                       "section (8 bytes)"),
      safetensors_case("safetensors_overlapping",
                       safetensors(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                                   R"("b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
                                   24),
                       "{dir}/m/model.safetensors: tensors 'a' [0, 16) and 'b' [8, 24) overlap"),
      safetensors_case(
          "safetensors_dtype_shape_mismatch",
          safetensors(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", 16),
          "{dir}/m/model.safetensors: tensor 'w': data_offsets [0,16] span 16 bytes, but shape [3] "
          "of F32 needs 12"),
      safetensors_case("safetensors_unknown_dtype",
                       safetensors(R"({"w":{"dtype":"F8","shape":[4],"data_offsets":[0,4]}})", 4),
                       "{dir}/m/model.safetensors: tensor 'w': unknown dtype 'F8' (expected one of "
                       "F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)"),
      safetensors_case(
          "safetensors_non_utf8_name",
          safetensors("{\"w\xff\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":["
                      "0,4]}}",
                      4),
          "{dir}/m/model.safetensors: header is not valid JSON ([json.exception.parse_error.101] "
          "parse error at line 1, column 4: syntax error while parsing object key - invalid "
          "string: ill-formed UTF-8 byte; last read: '\"w\xff'; expected string literal)"),
      safetensors_case("safetensors_huge_shape",
                       safetensors(R"({"w":{"dtype":"F32","shape":[)" + huge + "," + huge +
                                       R"(],"data_offsets":[0,16]}})",
                                   16),
                       "{dir}/m/model.safetensors: tensor 'w': shape [1099511627776,1099511627776] "
                       "needs more bytes than the data section (16 bytes)"),
      safetensors_case("safetensors_huge_header_length", le64(uint64_t{1} << 62) + "{}",
                       "{dir}/m/model.safetensors: header length 4611686018427387904 exceeds the "
                       "file (2 bytes after the length field)"),
      // --- qconfig.json
      {"qconfig_not_json",
       [](const fs::path& d) { write_bytes(copy_model(saved_cnn(), d) / "qconfig.json", "{"); },
       "eval --model {dir}/m {cache}", 1,
       "{dir}/m/qconfig.json: not valid JSON ([json.exception.parse_error.101] parse error at line "
       "1, column 2: syntax error while parsing object key - unexpected end of input; expected "
       "string literal)"},
      qconfig_case(
          "qconfig_newer_version", [](Json& q) { q["format_version"] = 2; },
          "{dir}/m/qconfig.json: format_version 2 is newer than this qtune reads (1); upgrade "
          "qtune"),
      qconfig_case(
          "qconfig_missing_model", [](Json& q) { q.erase("model"); },
          "{dir}/m/qconfig.json: missing field 'model'"),
      qconfig_case(
          "qconfig_bits_out_of_range",
          [](Json& q) {
            for (auto& [name, l] : q["layers"].items())
              if (l.value("quantized", false)) l["bits"] = 9;
          },
          "{dir}/m/qconfig.json: layers.conv1.bits: expected 1..8, got 9"),
      qconfig_case(
          "qconfig_negative_shape",
          [](Json& q) {
            for (auto& [name, l] : q["layers"].items())
              if (l.value("quantized", false)) l["shape"] = {-1, 4};
          },
          "{dir}/m/qconfig.json: layers.conv1.shape: expected a list of positive integers, got "
          "[-1,4]"),
      qconfig_case(
          "qconfig_unknown_backend",
          [](Json& q) {
            for (auto& [name, l] : q["layers"].items())
              if (l.value("quantized", false)) l["backend"] = "warp-drive";
          },
          "{dir}/m/qconfig.json: layers.conv1.backend: unknown backend 'warp-drive': expected auto "
          "or one of onednn, native, torch, eager"),
      // --- tokenizer.json
      tokenizer_case("tokenizer_not_json", "{\"model\": ",
                     "{dir}/m/tokenizer.json: not valid JSON: [json.exception.parse_error.101] "
                     "parse error at line 1, column 11: syntax error while parsing value - "
                     "unexpected end of input; expected '[', '{', or a literal"),
      tokenizer_case("tokenizer_vocab_not_object", R"({"model": {"type": "BPE", "vocab": []}})",
                     "{dir}/m/tokenizer.json: model.vocab: expected an object {token: id}"),
      tokenizer_case("tokenizer_unknown_merge",
                     R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a zz"]}})",
                     "{dir}/m/tokenizer.json: model.merges[0] \"a zz\": both parts and their "
                     "concatenation must be in model.vocab"),
      // --- IDX (Fashion-MNIST)
      idx_case("idx_bad_magic", gzip("\x01\x02\x08\x03" + be32(1)), idx_labels(1),
               "IDX file {dir}/fm/t10k-images-idx3-ubyte.gz: bad magic number (expected 0x0000 "
               "0x08 ndim, got first bytes 1 2)"),
      idx_case("idx_truncated", idx_images(20).substr(0, 30), idx_labels(20),
               "IDX file {dir}/fm/t10k-images-idx3-ubyte.gz: truncated while reading the magic "
               "number: expected 4 bytes, got 0"),
      idx_case("idx_huge_declared_size",
               gzip(std::string("\0\0\x08\x03", 4) + be32(0xffffffff) + be32(28) + be32(28)),
               idx_labels(1),
               "IDX file {dir}/fm/t10k-images-idx3-ubyte.gz: declared size exceeds 2147483648 "
               "bytes (corrupt header?)"),
      idx_case(
          "idx_label_out_of_range", idx_images(12), idx_labels(12, 11),
          "IDX file {dir}/fm/t10k-labels-idx1-ubyte.gz: label 11 out of range (expected < 10)"),
      idx_case("idx_not_gzip", idx_images(12), "not gzip and not IDX",
               "IDX file {dir}/fm/t10k-labels-idx1-ubyte.gz: bad magic number (expected 0x0000 "
               "0x08 ndim, got first bytes 110 111)"),
      // --- a classifier's .npy files (one file as images and labels: the images fail first)
      yaml_dir_case("npy_not_numpy", kNpyYaml,
                    "{dir}/x.npy: not a numpy .npy file (no \\x93NUMPY magic)", "x.npy",
                    "P5 28 28 255\n"),
      yaml_dir_case("npy_fortran_order", kNpyYaml,
                    "{dir}/x.npy: Fortran-ordered array (save it with C order: "
                    "np.ascontiguousarray)",
                    "x.npy",
                    npy_bytes("{'descr': '|u1', 'fortran_order': True, 'shape': (1, 28, 28), }",
                              std::string(784, '\x10'))),
      yaml_dir_case("npy_big_endian_floats", kNpyYaml,
                    "{dir}/x.npy: unsupported dtype '>f4' (expected a little-endian integer of 1 "
                    "to 8 bytes, float32 or float64)",
                    "x.npy",
                    npy_bytes("{'descr': '>f4', 'fortran_order': False, 'shape': (1, 28, 28), }",
                              std::string(784 * 4, '\0'))),
      yaml_dir_case("npy_truncated_data", kNpyYaml,
                    "{dir}/x.npy: the shape (3 dimensions) holds 1568 bytes of data, the file has "
                    "784",
                    "x.npy",
                    npy_bytes("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 28, 28), }",
                              std::string(784, '\x10'))),
      yaml_dir_case("npy_wrong_image_shape", kNpyYaml,
                    "{dir}/x.npy: expected images of shape [N, 28, 28] or [N, 1, 28, 28], got [2, "
                    "392]",
                    "x.npy",
                    npy_bytes("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 392), }",
                              std::string(784, '\x10'))),
      // --- the user's data files (calibration text/JSON Lines, evaluation text)
      data_file_case("eval_file_missing", "other.txt", "text",
                     "eval --model builtin:tiny-lm-micro --eval-file {dir}/none.txt {cache}",
                     "{dir}/none.txt: cannot read the data file"),
      data_file_case("eval_file_empty", "e.txt", " \n\n",
                     "eval --model builtin:tiny-lm-micro --eval-file {dir}/e.txt {cache}",
                     "{dir}/e.txt: empty (no text)"),
      data_file_case("eval_file_too_short", "e.txt", "The harbour was quiet.\n",
                     "eval --model builtin:tiny-lm-micro --eval-file {dir}/e.txt --seqlen 16 "
                     "{cache}",
                     "{dir}/e.txt: gives 14 tokens, fewer than one evaluation window of 16 (+1 for "
                     "its last target)"),
      data_file_case("calibration_text_empty", "c.txt", "\n\t\n",
                     "quantize --model builtin:tiny-lm-micro --algorithm gptq --calibration-file "
                     "{dir}/c.txt --out {dir}/out {cache}",
                     "{dir}/c.txt: empty (no text)"),
      data_file_case("calibration_text_too_short", "c.txt", "The harbour was quiet.\n",
                     "quantize --model builtin:tiny-lm-micro --algorithm gptq --calibration-file "
                     "{dir}/c.txt --out {dir}/out {cache}",
                     "{dir}/c.txt: gives 13 tokens, fewer than one calibration window of 64"),
      data_file_case("calibration_jsonl_bad_line", "c.jsonl",
                     "{\"text\": \"a\"}\n{\"text\": \"b\"\n",
                     "quantize --model builtin:tiny-lm-micro --algorithm gptq --calibration-file "
                     "{dir}/c.jsonl --calibration-field text --out {dir}/out {cache}",
                     "{dir}/c.jsonl:2: not valid JSON"),
      data_file_case("calibration_jsonl_wrong_field", "c.jsonl", "{\"content\": \"a\"}\n",
                     "quantize --model builtin:tiny-lm-micro --algorithm gptq --calibration-file "
                     "{dir}/c.jsonl --calibration-field text --out {dir}/out {cache}",
                     "{dir}/c.jsonl:1: no field \"text\""),
      {"eval_seqlen_without_file", nullptr,
       "eval --model builtin:tiny-lm-micro --seqlen 16 {cache}", 2,
       "qtune eval: --seqlen needs --eval-file"},
      yaml_dir_case("yaml_calibration_file_missing",
                    "model: builtin:tiny-lm-micro\ncalibration: {text: {dir}/none.txt}\n" +
                        std::string(kSpace),
                    "{dir}/t.yaml: calibration.text: {dir}/none.txt: cannot read the data file"),
      yaml_dir_case("yaml_jsonl_without_field",
                    "model: builtin:tiny-lm-micro\ncalibration: {jsonl: {dir}/c.jsonl}\n" +
                        std::string(kSpace),
                    "{dir}/t.yaml: calibration.field: missing (the JSON field holding each "
                    "document)",
                    "c.jsonl", "{\"text\": \"a\"}\n"),
      yaml_case(
          "yaml_text_data_for_classifier",
          "model: builtin:fmnist-cnn-tiny\nevaluation: {perplexity: e.txt}\n" + std::string(kSpace),
          "{dir}/t.yaml: evaluation.perplexity: text data are for language models; "
          "builtin:fmnist-cnn-tiny is a classifier"),
      yaml_case("yaml_command_without_metric",
                "model: builtin:tiny-lm-micro\nevaluation: {command: \"true {model_dir}\"}\n" +
                    std::string(kSpace),
                "{dir}/t.yaml: evaluation.metric: missing (the JSON key the command prints)"),
      yaml_dir_case("tune_eval_file_too_short",
                    "model: builtin:tiny-lm-micro\nevaluation: {perplexity: {dir}/e.txt}\n" +
                        std::string(kSpace),
                    "{dir}/e.txt: gives 14 tokens, fewer than one evaluation window of 64 (+1 for "
                    "its last target)",
                    "e.txt", "The harbour was quiet.\n"),
      // --- databases
      {"db_of_another_program",
       [](const fs::path& d) { exec_sql(d / "x.db", "CREATE TABLE notes(id INTEGER, text TEXT)"); },
       "db --db {dir}/x.db runs", 1,
       "{dir}/x.db: not a qtune results database (no schema_version table)"},
      {"db_newer_schema",
       [](const fs::path& d) {
         exec_sql(d / "x.db",
                  "CREATE TABLE schema_version(version INTEGER NOT NULL);"
                  "INSERT INTO schema_version VALUES (999)");
       },
       "db --db {dir}/x.db runs", 1,
       "{dir}/x.db: database schema version 999 is newer than this qtune supports (" +
           std::to_string(ResultsDb::kSchemaVersion) + "); upgrade qtune to read it"},
      {"tune_into_db_of_another_program",
       [](const fs::path& d) {
         fs::create_directories(d / "out");
         exec_sql(d / "out" / "results.db", "CREATE TABLE notes(id INTEGER)");
         write_bytes(d / "t.yaml", "model: builtin:fmnist-cnn-tiny\n" + std::string(kSpace));
       },
       "tune --config {dir}/t.yaml --out {dir}/out {cache}", 1,
       "{dir}/out/results.db: not a qtune results database (no schema_version table)"},
      {"tune_into_locked_db",
       [](const fs::path& d) {
         fs::create_directories(d / "out");
         qtune_db(d / "out" / "results.db");
         write_bytes(d / "t.yaml", "model: builtin:fmnist-cnn-tiny\n" + std::string(kSpace));
       },
       "tune --config {dir}/t.yaml --out {dir}/out {cache}", 1,
       "{dir}/out/results.db: database is locked", "",
       [](const fs::path& d) -> std::shared_ptr<void> {
         return std::make_shared<DbLock>(d / "out" / "results.db");
       }},
      {"tune_disk_full",
       [](const fs::path& d) {
         write_bytes(d / "t.yaml", "model: builtin:fmnist-cnn-tiny\n" + std::string(kSpace));
       },
       "tune --config {dir}/t.yaml --out {dir}/out {cache}", 1,
       "{dir}/out/results.db: disk I/O error",
       // 16 blocks of 512 bytes (dash's unit): the results database cannot grow past 8 KiB.
       "ulimit -f 16; trap '' XFSZ;", nullptr, "out/results.db"},
  };
  return c;
}

std::string substitute(std::string s, const fs::path& dir) {
  for (size_t pos; (pos = s.find("{dir}")) != std::string::npos;) s.replace(pos, 5, dir.string());
  for (size_t pos; (pos = s.find("{cache}")) != std::string::npos;) s.replace(pos, 7, cache_flag());
  return s;
}

/// Every regular file under `dir` with its contents.
std::map<fs::path, std::string> snapshot(const fs::path& dir) {
  std::map<fs::path, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out[e.path()] = slurp(e.path());
  return out;
}

class BadInput : public ::testing::TestWithParam<Case> {};

TEST_P(BadInput, OneLineErrorExitStatusNothingWritten) {
  const Case& c = GetParam();
  const fs::path dir = fresh_dir("bad-" + c.name);
  if (c.setup) c.setup(dir);
  const auto before = snapshot(dir);
  std::shared_ptr<void> held = c.hold ? c.hold(dir) : nullptr;
  const std::string prefix = c.shell_prefix.empty() ? "" : substitute(c.shell_prefix, dir) + " ";
  const CommandResult r = run(prefix + qtune(substitute(c.args, dir)));
  held.reset();

  EXPECT_EQ(r.status, c.status) << r.err;
  EXPECT_EQ(r.err, "qtune: error: " + substitute(c.error, dir) + "\n");
  EXPECT_EQ(r.out, "");
  auto after = snapshot(dir);
  if (!c.may_write.empty() && after.erase(dir / c.may_write)) {
    // A write cut short must leave a database SQLite still reads as whole.
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open_v2((dir / c.may_write).c_str(), &h, SQLITE_OPEN_READONLY, nullptr),
              SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &s, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
    EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)), "ok");
    sqlite3_finalize(s);
    sqlite3_close(h);
  }
  for (const auto& [path, bytes] : after) {
    auto it = before.find(path);
    EXPECT_TRUE(it != before.end()) << "qtune wrote " << path;
    if (it != before.end()) EXPECT_TRUE(it->second == bytes) << "qtune changed " << path;
  }
}

INSTANTIATE_TEST_SUITE_P(Catalogue, BadInput, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& p) { return p.param.name; });

// Every trial failing is the run failing: exit 1 and the commonest error in one
// line, after the results table (the trials are recorded).
TEST(AllTrialsFailed, ExitsOneWithTheCommonestError) {
  const fs::path dir = fresh_dir("all-failed");
  write_bytes(dir / "t.yaml",
              "model: builtin:fmnist-cnn-tiny\ncalibration: {samples: 32}\nevaluation: {samples: "
              "50}\nsearch_space:\n  - algorithm: rtn\n    params: {bits: [4, 8]}\n    backend: "
              "onednn\n");
  const CommandResult r = run(qtune("tune --config " + (dir / "t.yaml").string() + " --out " +
                                    (dir / "out").string() + cache_flag()));
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_EQ(r.err, "qtune: error: " + (dir / "out" / "results.db").string() +
                       ": all 2 trials of run 1 failed; the commonest error (1 of 2): backend "
                       "'onednn' cannot run Conv2d int4 sym: no weight-only kernels\n");
  EXPECT_NE(r.out.find("FAILED"), std::string::npos) << r.out;
}

TEST(BadInputCatalogue, HasAtLeastFortyCases) { EXPECT_GE(cases().size(), 40u); }

}  // namespace
}  // namespace qtune::testing

#include "cli/data_flags.h"

#include "common/error.h"

namespace qtune::cli {
namespace {

// 0 when the flag is absent (the option's default).
int64_t at_least(const Args& args, const char* command, const std::string& name, int64_t min) {
  const int64_t v = args.get_int(name, 0);
  if (args.has(name) && v < min)
    throw UsageError(std::string("qtune ") + command + ": --" + name +
                     " must be >= " + std::to_string(min) + ", got " + std::to_string(v));
  return v;
}

}  // namespace

std::vector<FlagSpec> calibration_flags() {
  return {
      {"calibration-file", true, false,
       "language models: calibrate on this text file (documents split on blank lines) instead "
       "of the built-in text"},
      {"calibration-field", true, false,
       "read --calibration-file as JSON Lines, each document in this string field"},
      {"calibration-split", true, false,
       "paragraph (default: documents split on blank lines) | line (one document per line)"},
      {"seqlen", true, false, "tokens per calibration window (default min(2048, context))"},
  };
}

std::vector<FlagSpec> evaluation_flags() {
  return {
      {"eval-file", true, false,
       "language models: perplexity over this text file instead of the built-in held-out text"},
      {"seqlen", true, false, "with --eval-file: tokens per window (default min(2048, context))"},
      {"stride", true, false, "with --eval-file: tokens between window starts (default seqlen)"},
      {"max-windows", true, false, "with --eval-file: score at most this many windows"},
  };
}

LmDataOptions calibration_options(const Args& args) {
  LmDataOptions d;
  d.calibration_file = args.get_or("calibration-file", "");
  const bool file = !d.calibration_file.empty();
  for (const char* name : {"calibration-field", "calibration-split", "seqlen"})
    if (args.has(name) && !file)
      throw UsageError(std::string("qtune quantize: --") + name + " needs --calibration-file");
  if (auto f = args.get("calibration-field")) {
    d.calibration_format = "jsonl";
    d.jsonl_field = *f;
    if (args.has("calibration-split"))
      throw UsageError("qtune quantize: --calibration-split is for text, not JSON Lines");
  }
  if (auto s = args.get("calibration-split")) {
    if (*s != "paragraph" && *s != "line")
      throw UsageError("qtune quantize: --calibration-split must be paragraph or line, got '" + *s +
                       "'");
    d.one_document_per_line = *s == "line";
  }
  d.calibration_seqlen = at_least(args, "quantize", "seqlen", 2);
  return d;
}

LmDataOptions evaluation_options(const Args& args) {
  LmDataOptions d;
  d.eval_file = args.get_or("eval-file", "");
  for (const char* name : {"seqlen", "stride", "max-windows"})
    if (args.has(name) && d.eval_file.empty())
      throw UsageError(std::string("qtune eval: --") + name + " needs --eval-file");
  d.eval_seqlen = at_least(args, "eval", "seqlen", 2);
  d.stride = at_least(args, "eval", "stride", 1);
  d.max_windows = at_least(args, "eval", "max-windows", 1);
  if (d.eval_seqlen > 0 && d.stride > d.eval_seqlen)
    throw UsageError("qtune eval: --stride must be at most --seqlen (" +
                     std::to_string(d.eval_seqlen) + "), got " + std::to_string(d.stride));
  return d;
}

LmDataOptions recorded_evaluation_options(const Json& data, const std::string& where) {
  QT_CHECK(data.is_object(), where, ": expected an object, got ", data.dump());
  LmDataOptions d;
  if (!data.contains("perplexity")) return d;
  QT_CHECK(data["perplexity"].is_string(), where, ".perplexity: expected a file name, got ",
           data["perplexity"].dump());
  d.eval_file = data["perplexity"].get<std::string>();
  const auto count = [&](const char* key, int64_t min) -> int64_t {
    if (!data.contains(key)) return 0;
    QT_CHECK(data[key].is_number_integer() && data[key].get<int64_t>() >= min, where, ".", key,
             ": expected an integer >= ", min, ", got ", data[key].dump());
    return data[key].get<int64_t>();
  };
  d.eval_seqlen = count("eval_seqlen", 2);
  d.stride = count("stride", 1);
  d.max_windows = count("max_windows", 1);
  return d;
}

ImageDataOptions recorded_image_options(const Json& data, const std::string& where) {
  QT_CHECK(data.is_object(), where, ": expected an object, got ", data.dump());
  ImageDataOptions o;
  const auto file = [&](const Json& block, const std::string& path, const char* key) {
    QT_CHECK(block.contains(key) && block[key].is_string(), where, ".", path, ".", key,
             ": expected a file name, got ", block.contains(key) ? block[key].dump() : "nothing");
    return block[key].get<std::string>();
  };
  if (data.contains("evaluation")) {
    const Json& e = data["evaluation"];
    QT_CHECK(e.is_object(), where, ".evaluation: expected an object, got ", e.dump());
    o.eval_format = e.contains("npy") ? "npy" : "idx";
    o.eval_images = file(e, "evaluation", o.eval_format == "npy" ? "npy" : "idx_images");
    o.eval_labels = file(e, "evaluation", o.eval_format == "npy" ? "labels" : "idx_labels");
  }
  if (data.contains("normalize")) {
    const Json& n = data["normalize"];
    QT_CHECK(n.is_object() && n.contains("mean") && n["mean"].is_number() && n.contains("std") &&
                 n["std"].is_number() && n["std"].get<double>() > 0,
             where, ".normalize: expected {mean: M, std: S > 0}, got ", n.dump());
    o.normalize = true;
    o.mean = n["mean"].get<double>();
    o.std = n["std"].get<double>();
  }
  return o;
}

}  // namespace qtune::cli

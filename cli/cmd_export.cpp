// `qtune export`: write a model (a saved qtune directory, or anything --model
// loads) in a format inference runtimes read (storage/formats/export.h).
#include <iostream>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/model_source.h"
#include "common/error.h"
#include "storage/formats/export.h"

namespace qtune::cli {

namespace {

std::string format_list() {
  std::string s;
  for (const ExportFormat& f : export_formats())
    s += std::string("\n  ") + f.name + (f.writes_file ? " (--out names a file)" : "") + ": " +
         f.description;
  return s.empty() ? "\n  (none in this build)" : s;
}

}  // namespace

int cmd_export(int argc, char** argv) {
  const std::vector<FlagSpec> flags = {
      {"model", true, false,
       "saved model directory (what qtune quantize / tune wrote), or any model --model loads"},
      {"format", true, false, "export format (listed below)"},
      {"out", true, false, "where to write: a directory, or a file for file formats (gguf)"},
      {"checkpoint-format", true, false,
       "hf-gptq only: gptq (v1, stored zero = zero - 1; the default) or gptq_v2"},
      {"requantize", false, false,
       "re-quantize layers whose codes the format cannot carry as they are (reported) instead "
       "of refusing them"},
      {"json", false, false, "print {format, written, notes} as JSON"},
      {"cache-dir", true, false, "where trained built-in models are cached"},
      {"help", false, false, "show this help"},
  };
  Args args("export", flags, argc, argv, 2);
  if (args.has("help")) {
    std::cout << usage("export",
                       "--model DIR --format F --out OUT [--checkpoint-format gptq|gptq_v2] "
                       "[--requantize] [--json]",
                       flags)
              << "\nformats:" << format_list() << "\n";
    return 0;
  }
  args.reject_positionals();
  const bool json = args.has("json");
  const std::string model_arg = args.required("model");
  const std::string format_name = args.required("format");
  const std::string out = args.required("out");
  if (out.empty()) throw UsageError("qtune export: --out must not be empty");
  ExportOptions options;
  if (const auto cf = args.get("checkpoint-format")) {
    if (*cf != "gptq" && *cf != "gptq_v2")
      throw UsageError("qtune export: --checkpoint-format: expected gptq or gptq_v2, got '" + *cf +
                       "'");
    if (format_name != "hf-gptq")
      throw UsageError("qtune export: --checkpoint-format applies to --format hf-gptq, not '" +
                       format_name + "'");
    options.checkpoint_format = *cf;
  }
  options.requantize = args.has("requantize");
  // Before the model loads: a misspelt format should not cost a load.
  const ExportFormat& format = find_export_format(format_name);

  const LoadedModel loaded = load_model_arg(model_arg, cache_dir_arg(args.get_or("cache-dir", "")),
                                            stderr_is_terminal() && !json);
  ExportInput in;
  in.model = loaded.model.get();
  in.files_dir = loaded.files_dir;
  in.options = options;
  const ExportReport report = format.run(in, out);
  const std::string written = report.written.empty() ? out : report.written.string();

  if (json) {
    const Json j = {{"format", format.name}, {"written", written}, {"notes", report.notes}};
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << "wrote " << written << " (" << format.name << ")\n";
    for (const std::string& note : report.notes) std::cout << "note: " << note << "\n";
  }
  return 0;
}

}  // namespace qtune::cli

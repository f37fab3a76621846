// The qtune subcommands: thin layers over the library (DESIGN.md layer 8).
// Each returns the process exit status and throws qtune::Error on bad input.
#pragma once

namespace qtune::cli {

int cmd_tune(int argc, char** argv);
int cmd_quantize(int argc, char** argv);
int cmd_eval(int argc, char** argv);
int cmd_bench(int argc, char** argv);
int cmd_models(int argc, char** argv);
int cmd_db(int argc, char** argv);
int cmd_generate(int argc, char** argv);
int cmd_export(int argc, char** argv);

}  // namespace qtune::cli

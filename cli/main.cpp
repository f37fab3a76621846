// qtune: quantize neural networks and tune their quantization.
//
// The one place user-facing errors are turned into a message and an exit
// status (STYLE.md "Convert once at each boundary"): UsageError -> 2, other
// qtune::Error and unexpected exceptions -> 1.
#include <mpi.h>

#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "common/error.h"
#include "common/first_line.h"
#include "common/malloc_tuning.h"
#include "tuner/mpi_comm.h"

namespace {

constexpr const char* kUsage =
    "usage: qtune COMMAND [options]\n"
    "\n"
    "commands:\n"
    "  tune       search quantization configs, record every trial, save the best model\n"
    "  quantize   quantize a model with one algorithm and save it\n"
    "  eval       evaluate a model (saved directory or spec): top-1 or perplexity\n"
    "  generate   continue a prompt with a language model (KV cache, top-k sampling)\n"
    "  bench      measure a model's latency\n"
    "  export     write a saved model as a runtime's format (hf-gptq, hf-awq, gguf)\n"
    "  models     list the built-in models and their cache state\n"
    "  db         query a results database: runs | trials | best | pareto | compare | report\n"
    "\n"
    "Run 'qtune COMMAND --help' for a command's options.\n"
    "Under MPI: mpirun -np N qtune tune ... (rank 0 coordinates, ranks 1..N-1 work).\n";

// Under mpirun every rank parses the same arguments and config, so an input
// error is the same everywhere: let rank 0 alone print it.
bool is_quiet_rank() { return qtune::launched_rank() > 0; }

int fail(int status, const std::string& message) {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) {
    // Only this rank failed: finalizing would hang the others, abort them all.
    std::fprintf(stderr, "qtune: error: %s\n", message.c_str());
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, status);
  }
  if (!is_quiet_rank()) std::fprintf(stderr, "qtune: error: %s\n", message.c_str());
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string command = argv[1];
  qtune::keep_freed_tensor_memory();
  try {
    if (command == "--help" || command == "-h" || command == "help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (command == "--version") {
      std::puts("qtune 0.1.0");
      return 0;
    }
    if (command == "tune") return qtune::cli::cmd_tune(argc, argv);
    if (command == "quantize") return qtune::cli::cmd_quantize(argc, argv);
    if (command == "eval") return qtune::cli::cmd_eval(argc, argv);
    if (command == "bench") return qtune::cli::cmd_bench(argc, argv);
    if (command == "models") return qtune::cli::cmd_models(argc, argv);
    if (command == "db") return qtune::cli::cmd_db(argc, argv);
    if (command == "generate") return qtune::cli::cmd_generate(argc, argv);
    if (command == "export") return qtune::cli::cmd_export(argc, argv);
    throw qtune::UsageError(
        "unknown command '" + command +
        "' (expected tune, quantize, eval, generate, bench, export, models or db)");
  } catch (const qtune::UsageError& e) {
    return fail(2, e.what());
  } catch (const qtune::Error& e) {
    return fail(1, e.what());
  } catch (const std::exception& e) {
    // c10::Error carries a multi-line backtrace; its first line is the message.
    return fail(1, "unexpected: " + qtune::first_line(e.what()));
  }
}

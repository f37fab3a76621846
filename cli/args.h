// A small, strict command-line parser: every flag a subcommand accepts is
// declared, so an unknown or malformed flag is a UsageError (exit 2) that
// names it, instead of being silently ignored.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace qtune::cli {

struct FlagSpec {
  std::string name;  ///< without dashes: "model"
  bool takes_value = true;
  bool repeatable = false;  ///< --set k=v --set k2=v2
  std::string help;
};

class Args {
 public:
  /// Parses argv[first..] against `flags`; positionals are collected in order.
  Args(const std::string& command, const std::vector<FlagSpec>& flags, int argc, char** argv,
       int first);

  bool has(const std::string& name) const;
  std::optional<std::string> get(const std::string& name) const;
  std::string get_or(const std::string& name, const std::string& fallback) const;
  std::string required(const std::string& name) const;  ///< UsageError if absent
  std::vector<std::string> all(const std::string& name) const;
  int64_t get_int(const std::string& name,
                  int64_t fallback) const;  ///< UsageError if not an integer
  const std::vector<std::string>& positionals() const { return positionals_; }
  /// UsageError if any word that is not a flag was given (commands without positionals).
  void reject_positionals() const;

 private:
  std::string command_;
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positionals_;
};

/// Usage text of a subcommand from its flag specs.
std::string usage(const std::string& command, const std::string& synopsis,
                  const std::vector<FlagSpec>& flags);

}  // namespace qtune::cli

#include "cli/args.h"

#include <sstream>

#include "common/error.h"

namespace qtune::cli {

Args::Args(const std::string& command, const std::vector<FlagSpec>& flags, int argc, char** argv,
           int first)
    : command_(command) {
  auto find = [&](const std::string& name) -> const FlagSpec* {
    for (const auto& f : flags)
      if (f.name == name) return &f;
    return nullptr;
  };
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h") arg = "--help";  // the one short flag everyone tries
    if (arg.rfind("--", 0) != 0 || arg == "--") {
      positionals_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::optional<std::string> inline_value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const FlagSpec* spec = find(name);
    if (!spec)
      throw UsageError("qtune " + command_ + ": unknown flag --" + name + " (see qtune " +
                       command_ + " --help)");
    std::string value = "true";
    if (spec->takes_value) {
      if (inline_value) {
        value = *inline_value;
      } else {
        if (i + 1 >= argc) throw UsageError("qtune " + command_ + ": --" + name + " needs a value");
        value = argv[++i];
      }
    } else if (inline_value) {
      throw UsageError("qtune " + command_ + ": --" + name + " takes no value");
    }
    auto& slot = values_[name];
    if (!slot.empty() && !spec->repeatable)
      throw UsageError("qtune " + command_ + ": --" + name + " given twice");
    slot.push_back(value);
  }
}

bool Args::has(const std::string& name) const { return values_.count(name) > 0; }

std::optional<std::string> Args::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second.back();
}

std::string Args::get_or(const std::string& name, const std::string& fallback) const {
  return get(name).value_or(fallback);
}

std::string Args::required(const std::string& name) const {
  auto v = get(name);
  if (!v) throw UsageError("qtune " + command_ + ": --" + name + " is required");
  return *v;
}

std::vector<std::string> Args::all(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

int64_t Args::get_int(const std::string& name, int64_t fallback) const {
  auto v = get(name);
  if (!v) return fallback;
  size_t used = 0;
  int64_t out = 0;
  try {
    out = std::stoll(*v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != v->size())
    throw UsageError("qtune " + command_ + ": --" + name + " expects an integer, got '" + *v + "'");
  return out;
}

void Args::reject_positionals() const {
  if (!positionals_.empty())
    throw UsageError("qtune " + command_ + ": unexpected argument '" + positionals_.front() +
                     "' (flags start with --; see qtune " + command_ + " --help)");
}

std::string usage(const std::string& command, const std::string& synopsis,
                  const std::vector<FlagSpec>& flags) {
  std::ostringstream out;
  out << "usage: qtune " << command << " " << synopsis << "\n\noptions:\n";
  for (const auto& f : flags) {
    std::string left = "  --" + f.name + (f.takes_value ? " VALUE" : "");
    out << left << std::string(left.size() < 26 ? 26 - left.size() : 1, ' ') << f.help << "\n";
  }
  return out.str();
}

}  // namespace qtune::cli

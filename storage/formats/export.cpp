#include "storage/formats/export.h"

#include "common/error.h"

namespace qtune {

const std::vector<ExportFormat>& export_formats() {
  static const std::vector<ExportFormat> all = {};
  return all;
}

const ExportFormat& find_export_format(const std::string& name) {
  std::string known;
  for (const ExportFormat& f : export_formats()) {
    if (name == f.name) return f;
    known += (known.empty() ? "" : ", ") + std::string(f.name);
  }
  throw Error("unknown export format '" + name + "' (known: " + (known.empty() ? "none" : known) +
              ")");
}

}  // namespace qtune

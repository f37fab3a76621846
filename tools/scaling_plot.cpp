// The pictures of docs/scaling.md and README's "Scale, measured": reads the
// rows scripts/scaling_bench.sh wrote (docs/scaling.csv) and draws, with the
// HTML report's plotter (tuner/svg_plot.h), the coordinator's CPU per trial
// against ranks (the 1 ms goal as a line) and steady throughput against the
// ideal (workers / trial length).
//   scaling_plot CSV OUT_DIR   -> OUT_DIR/scaling-cpu.svg, OUT_DIR/scaling-throughput.svg
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "common/atomic_file.h"
#include "common/error.h"
#include "tuner/svg_plot.h"

namespace {

using Row = std::map<std::string, std::string>;

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  for (std::string cell; std::getline(ss, cell, ',');) out.push_back(cell);
  return out;
}

std::vector<Row> read_rows(const std::string& path) {
  std::ifstream in(path);
  QT_CHECK(in, path, ": cannot read");
  std::string line;
  QT_CHECK(std::getline(in, line), path, ": empty, expected a header line");
  const std::vector<std::string> header = split(line);
  std::vector<Row> rows;
  for (int n = 2; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    const std::vector<std::string> cells = split(line);
    QT_CHECK(cells.size() == header.size(), path, ":", n, ": ", cells.size(),
             " cells, the header has ", header.size());
    Row r;
    for (size_t i = 0; i < header.size(); ++i) r[header[i]] = cells[i];
    rows.push_back(std::move(r));
  }
  QT_CHECK(!rows.empty(), path, ": no rows");
  return rows;
}

double number(const Row& r, const std::string& key, const std::string& path) {
  const auto it = r.find(key);
  QT_CHECK(it != r.end(), path, ": no column ", key);
  try {
    return std::stod(it->second);
  } catch (const std::exception&) {
    throw qtune::Error(path + ": column " + key + ": expected a number, got '" + it->second + "'");
  }
}

// The report's stylesheet (tuner/report_html.cpp) with its colours spelled
// out: a standalone .svg, as README shows it, has no page around it.
const char* kStyle =
    "<style>"
    ".ptitle{font:600 15px sans-serif;fill:#1d1d1f}"
    ".area{fill:#fbfbfd;stroke:#c9c9d1}"
    ".grid{stroke:#ececf1}"
    ".tick{font:11.5px sans-serif;fill:#6e6e73}"
    ".axis{font:13px sans-serif;fill:#1d1d1f}"
    ".limit{stroke:#b3261e;stroke-width:1.4;stroke-dasharray:6 4}"
    ".limit-label{font:11.5px sans-serif;fill:#b3261e}"
    ".pt{stroke-width:1.5;fill-opacity:0.9}"
    ".pt.miss{stroke-width:2}"
    "</style>\n";

std::string standalone(std::string svg) {
  svg.insert(svg.find('\n') + 1, kStyle);
  return svg;
}

// Series 0: synthetic trials, 1: real rtn trials.
int series_of(const Row& r) { return r.at("kind") == "real" ? 1 : 0; }

std::string cpu_plot(const std::vector<Row>& rows, const std::string& path) {
  qtune::ScatterPlot p;
  p.title = "Rank 0's CPU per trial: synthetic (filled), real rtn (ring)";
  p.x_label = "ranks";
  p.y_label = "coordinator CPU per trial (ms)";
  p.series_colors = {"#1f77b4", "#d62728"};
  for (const Row& r : rows) {
    qtune::PlotPoint pt;
    pt.x = number(r, "ranks", path);
    pt.y = number(r, "coord_thread_cpu_ms_per_trial", path);
    pt.series = series_of(r);
    pt.hollow = pt.series == 1;
    char title[160];
    std::snprintf(title, sizeof title, "%s, %g ranks: %.2f ms per trial (db writes %.2f ms CPU)",
                  r.at("kind").c_str(), pt.x, pt.y, number(r, "db_write_cpu_ms_per_trial", path));
    pt.title = title;
    p.points.push_back(pt);
  }
  p.lines.push_back({false, 1.0, "goal: 1 ms", "limit"});
  return standalone(qtune::render_scatter_svg(p));
}

std::string throughput_plot(const std::vector<Row>& rows, const std::string& path) {
  qtune::ScatterPlot p;
  p.title = "Synthetic trials per hour: steady (filled), ideal (ring)";
  p.x_label = "ranks";
  p.y_label = "trials per hour (thousands)";
  p.series_colors = {"#1f77b4", "#7f7f7f"};
  for (const Row& r : rows) {
    if (r.at("kind") != "synthetic") continue;
    const double ranks = number(r, "ranks", path);
    const double steady = number(r, "steady_trials_per_hour", path) / 1000;
    const double ideal = number(r, "ideal_trials_per_hour", path) / 1000;
    char title[160];
    std::snprintf(title, sizeof title, "%g ranks: %.1fk per hour, ideal %.1fk (%.0f%%)", ranks,
                  steady, ideal, 100 * steady / ideal);
    p.points.push_back({ranks, steady, 0, title, "", false, false, ""});
    p.points.push_back({ranks, ideal, 1, title, "", true, false, ""});
  }
  return standalone(qtune::render_scatter_svg(p));
}

void write(const std::string& path, const std::string& text) {
  qtune::write_file_atomically(path, [&](std::FILE* f) {
    return std::fwrite(text.data(), 1, text.size(), f) == text.size();
  });
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: scaling_plot CSV OUT_DIR\n");
    return 2;
  }
  try {
    const std::string csv = argv[1];
    const std::vector<Row> rows = read_rows(csv);
    const std::string dir = argv[2];
    write(dir + "/scaling-cpu.svg", cpu_plot(rows, csv));
    write(dir + "/scaling-throughput.svg", throughput_plot(rows, csv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "scaling_plot: error: %s\n", e.what());
    return 1;
  }
  return 0;
}

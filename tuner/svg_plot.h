// A scatter plot as inline SVG, for the HTML report (tuner/report_html.h):
// axes with "nice" ticks, series by colour, reference lines, hover titles.
// Generic: it knows nothing of trials.
#pragma once

#include <string>
#include <vector>

namespace qtune {

struct PlotPoint {
  double x = 0, y = 0;
  int series = 0;           ///< index into ScatterPlot::series_colors
  std::string title;        ///< hover text
  std::string attrs;        ///< extra attributes, already escaped (' data-point="3"')
  bool hollow = false;      ///< drawn as a ring (a trial that missed the constraints)
  bool emphasised = false;  ///< a dark outline (on the Pareto front)
  std::string label;        ///< drawn next to the point, with a ring around it (the best)
};

/// A horizontal (y = at) or vertical (x = at) line across the plot.
struct PlotLine {
  bool vertical = false;
  double at = 0;
  std::string label;
  std::string css_class;  ///< styles it: "limit" (constraint), "base" (baseline)
};

/// A marker that is not a data point (the fp32 baseline): a diamond. It widens
/// the y range but not the x range: beyond the last x tick it sits at the
/// edge, its label followed by an arrow.
struct PlotMark {
  double x = 0, y = 0;
  std::string label, title;
};

struct ScatterPlot {
  std::string title;
  std::string x_label, y_label;  ///< with units: "size (KiB)"
  std::vector<std::string> series_colors;
  std::vector<PlotPoint> points;
  std::vector<PlotLine> lines;
  std::vector<PlotMark> marks;
};

/// Ticks at 1, 2 or 5 times a power of ten, about `target` of them, the
/// first <= lo and the last >= hi; lo == hi is widened so there are >= 2.
std::vector<double> nice_ticks(double lo, double hi, int target);

/// Tick label with as many decimals as the tick step needs ("0.25" -> 2).
std::string tick_text(double value, double step);

/// An <svg> element (viewBox, scales with its container) holding the plot.
std::string render_scatter_svg(const ScatterPlot& plot);

}  // namespace qtune

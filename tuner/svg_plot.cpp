#include "tuner/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "common/error.h"
#include "tuner/html_escape.h"

namespace qtune {

namespace {
// The SVG user space; the element scales to its container (viewBox).
constexpr double kWidth = 600, kHeight = 400;
constexpr double kLeft = 76, kRight = 20, kTop = 40, kBottom = 58;
constexpr double kInset = 10;  // points at the domain's edge stay clear of the axes

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

struct Scale {
  double lo, hi, from, to;  // domain [lo, hi] -> pixels [from, to]
  double operator()(double v) const { return from + (v - lo) / (hi - lo) * (to - from); }
};
}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int target) {
  QT_ASSERT(std::isfinite(lo) && std::isfinite(hi) && lo <= hi && target >= 2, "ticks over [", lo,
            ", ", hi, "]");
  if (hi - lo < 1e-12 * std::max(1.0, std::fabs(hi))) {
    const double pad = lo == 0 ? 1 : std::fabs(lo) * 0.05;
    lo -= pad;
    hi += pad;
  }
  const double raw = (hi - lo) / target;
  const double mag = std::pow(10, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  // Rounding of lo / step can put the first tick a hair above lo: nudge.
  const double first = std::floor(lo / step + 1e-9) * step;
  std::vector<double> ticks;
  // first + i * step, not a running sum: the sum drifts (0.1 + 0.2 != 0.3).
  for (int i = 0; ticks.empty() || ticks.back() < hi - step * 1e-9; ++i) {
    const double t = first + i * step;
    ticks.push_back(std::fabs(t) < step * 1e-9 ? 0.0 : t);
  }
  if (ticks.size() < 2) ticks.push_back(ticks.back() + step);
  return ticks;
}

std::string tick_text(double value, double step) {
  const int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

std::string render_scatter_svg(const ScatterPlot& p) {
  double xmin = std::numeric_limits<double>::infinity(), xmax = -xmin, ymin = xmin, ymax = -xmin;
  const auto take = [&](double x, double y) {
    xmin = std::min(xmin, x), xmax = std::max(xmax, x);
    ymin = std::min(ymin, y), ymax = std::max(ymax, y);
  };
  for (const auto& pt : p.points) take(pt.x, pt.y);
  // A reference mark sets the y range only: the fp32 model, 4-8x larger than
  // any quantized one, would squeeze the trials into a corner; it is drawn at
  // the edge with an arrow instead.
  for (const auto& m : p.marks) ymin = std::min(ymin, m.y), ymax = std::max(ymax, m.y);
  for (const auto& l : p.lines) {
    if (l.vertical)
      xmin = std::min(xmin, l.at), xmax = std::max(xmax, l.at);
    else
      ymin = std::min(ymin, l.at), ymax = std::max(ymax, l.at);
  }
  if (!std::isfinite(xmin)) xmin = 0, xmax = 1;
  if (!std::isfinite(ymin)) ymin = 0, ymax = 1;
  const std::vector<double> xt = nice_ticks(xmin, xmax, 6), yt = nice_ticks(ymin, ymax, 6);
  const double left = kLeft, right = kWidth - kRight, top = kTop, bottom = kHeight - kBottom;
  const Scale sx{xt.front(), xt.back(), left + kInset, right - kInset};
  const Scale sy{yt.front(), yt.back(), bottom - kInset, top + kInset};

  std::string s = "<svg class=\"plot\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " +
                  num(kWidth) + " " + num(kHeight) + "\" role=\"img\" aria-label=\"" +
                  html_escape(p.title) + "\">\n";
  s += "<text class=\"ptitle\" x=\"" + num(left) + "\" y=\"24\">" + html_escape(p.title) +
       "</text>\n";
  s += "<rect class=\"area\" x=\"" + num(left) + "\" y=\"" + num(top) + "\" width=\"" +
       num(right - left) + "\" height=\"" + num(bottom - top) + "\"/>\n";
  for (double t : xt) {
    const std::string x = num(sx(t));
    s += "<line class=\"grid\" x1=\"" + x + "\" y1=\"" + num(top) + "\" x2=\"" + x + "\" y2=\"" +
         num(bottom) + "\"/>";
    s += "<text class=\"tick\" text-anchor=\"middle\" x=\"" + x + "\" y=\"" + num(bottom + 18) +
         "\">" + tick_text(t, xt[1] - xt[0]) + "</text>\n";
  }
  for (double t : yt) {
    const std::string y = num(sy(t));
    s += "<line class=\"grid\" x1=\"" + num(left) + "\" y1=\"" + y + "\" x2=\"" + num(right) +
         "\" y2=\"" + y + "\"/>";
    s += "<text class=\"tick\" text-anchor=\"end\" x=\"" + num(left - 8) + "\" y=\"" +
         num(sy(t) + 4) + "\">" + tick_text(t, yt[1] - yt[0]) + "</text>\n";
  }
  s += "<text class=\"axis\" text-anchor=\"middle\" x=\"" + num((left + right) / 2) + "\" y=\"" +
       num(kHeight - 14) + "\">" + html_escape(p.x_label) + "</text>\n";
  s += "<text class=\"axis\" text-anchor=\"middle\" transform=\"translate(18 " +
       num((top + bottom) / 2) + ") rotate(-90)\">" + html_escape(p.y_label) + "</text>\n";

  for (const auto& l : p.lines) {
    const std::string cls = html_escape(l.css_class);
    if (l.vertical) {
      const double x = sx(l.at);
      const bool near_right = x > right - 140;
      s += "<line class=\"" + cls + "\" x1=\"" + num(x) + "\" y1=\"" + num(top) + "\" x2=\"" +
           num(x) + "\" y2=\"" + num(bottom) + "\"/>";
      s += "<text class=\"" + cls + "-label\" text-anchor=\"" + (near_right ? "end" : "start") +
           "\" x=\"" + num(near_right ? x - 5 : x + 5) + "\" y=\"" + num(top + 14) + "\">" +
           html_escape(l.label) + "</text>\n";
    } else {
      const double y = sy(l.at);
      // Below the line when it runs along the top edge, above it otherwise.
      const double ty = y - 5 < top + 12 ? y + 14 : y - 5;
      s += "<line class=\"" + cls + "\" x1=\"" + num(left) + "\" y1=\"" + num(y) + "\" x2=\"" +
           num(right) + "\" y2=\"" + num(y) + "\"/>";
      // Limits labelled at the right, the baseline at the left: they never collide.
      const bool at_left = l.css_class == "base";
      s += "<text class=\"" + cls + "-label\" text-anchor=\"" + (at_left ? "start" : "end") +
           "\" x=\"" + num(at_left ? left + 6 : right - 6) + "\" y=\"" + num(ty) + "\">" +
           html_escape(l.label) + "</text>\n";
    }
  }
  for (const auto& m : p.marks) {
    const bool beyond = m.x > xt.back();
    const double x = sx(std::max(xt.front(), std::min(m.x, xt.back()))), y = sy(m.y);
    s += "<path class=\"mark\" d=\"M" + num(x) + " " + num(y - 7) + "L" + num(x + 7) + " " +
         num(y) + "L" + num(x) + " " + num(y + 7) + "L" + num(x - 7) + " " + num(y) +
         "Z\"><title>" + html_escape(m.title) + "</title></path>";
    // At the edge the label goes below the mark, clear of the trials beside it.
    const bool near_right = x > right - 110;
    const double lx = beyond ? x : near_right ? x - 11 : x + 11;
    const double ly = beyond ? y + (y + 24 > bottom ? -12 : 20) : y + 4;
    s += "<text class=\"mark-label\" text-anchor=\"" +
         std::string(beyond || near_right ? "end" : "start") + "\" x=\"" + num(lx) + "\" y=\"" +
         num(ly) + "\">" + html_escape(m.label) + (beyond ? " \xE2\x86\x92" : "") + "</text>\n";
  }
  // Paint order: plain points, then the front, then the labelled (best) on top.
  std::vector<const PlotPoint*> order;
  for (const auto& pt : p.points) order.push_back(&pt);
  const auto rank = [](const PlotPoint* q) {
    return !q->label.empty() ? 2 : q->emphasised ? 1 : 0;
  };
  std::stable_sort(order.begin(), order.end(),
                   [&](const PlotPoint* a, const PlotPoint* b) { return rank(a) < rank(b); });
  for (const PlotPoint* pt : order) {
    QT_ASSERT(pt->series >= 0 && static_cast<size_t>(pt->series) < p.series_colors.size(),
              "series ", pt->series, " has no colour");
    const std::string color = html_escape(p.series_colors[pt->series]);
    const double x = sx(pt->x), y = sy(pt->y);
    if (!pt->label.empty()) {
      const bool near_right = x > right - 130;
      const double ly = y - 12 < top + 12 ? y + 20 : y - 12;
      s += "<circle class=\"best-ring\" cx=\"" + num(x) + "\" cy=\"" + num(y) + "\" r=\"11\"/>";
      s += "<text class=\"best-label\" text-anchor=\"" + std::string(near_right ? "end" : "start") +
           "\" x=\"" + num(near_right ? x - 13 : x + 13) + "\" y=\"" + num(ly) + "\">" +
           html_escape(pt->label) + "</text>\n";
    }
    std::string cls = "pt";
    if (pt->hollow) cls += " miss";
    if (pt->emphasised) cls += " front";
    s += "<circle class=\"" + cls + "\"" + pt->attrs + " cx=\"" + num(x) + "\" cy=\"" + num(y) +
         "\" r=\"" + (pt->emphasised ? "6" : "5") + "\" fill=\"" + (pt->hollow ? "#fff" : color) +
         "\" stroke=\"" + (pt->emphasised ? std::string("#1d1d1f") : color) + "\"><title>" +
         html_escape(pt->title) + "</title></circle>\n";
  }
  s += "</svg>\n";
  return s;
}

}  // namespace qtune

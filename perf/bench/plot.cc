#include "perf/bench/plot.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <ostream>

#include "perf/bench/formatf.h"

namespace prism::bench {
namespace {

constexpr double kWidth = 880, kHeight = 520;
constexpr double kLeft = 70, kRight = 190, kTop = 40, kBottom = 60;
constexpr const char* kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                   "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '&')
      out += "&amp;";
    else
      out += c;
  }
  return out;
}

/// 8, 1K, 64M, 2G.
std::string sizeLabel(double bytes) {
  const char* units[] = {"", "K", "M", "G", "T"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  return formatf("%g%s", bytes, units[u]);
}

/// A round step for a linear axis up to `top`: 1, 2 or 5 times a power of ten.
double niceStep(double top) {
  const double raw = top / 5;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0})
    if (m * power >= raw) return m * power;
  return 10 * power;
}

}  // namespace

std::string renderPlot(const PlotSpec& plot) {
  double xMin = INFINITY, xMax = 0, yMax = 0;
  for (const PlotSeries& s : plot.series) {
    for (auto [x, y] : s.points) {
      if (x <= 0) continue;
      xMin = std::min(xMin, x);
      xMax = std::max(xMax, x);
      yMax = std::max(yMax, y);
    }
  }
  if (xMax == 0) xMin = 1, xMax = 2;
  const double lo = std::floor(std::log2(xMin)), hi = std::max(std::ceil(std::log2(xMax)), lo + 1);
  const double step = niceStep(yMax > 0 ? yMax : 1);
  const double top = std::max(step, std::ceil(yMax / step) * step);
  const double plotW = kWidth - kLeft - kRight, plotH = kHeight - kTop - kBottom;
  auto px = [&](double bytes) { return kLeft + (std::log2(bytes) - lo) / (hi - lo) * plotW; };
  auto py = [&](double gbps) { return kTop + plotH - gbps / top * plotH; };

  std::string svg = formatf(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" "
      "fill=\"white\"/>\n",
      kWidth, kHeight);
  svg += formatf("<text x=\"%.0f\" y=\"22\" font-size=\"15\">%s</text>\n", kLeft,
                 escape(plot.title).c_str());
  // Axes, grid and labels: one x tick per power of two (every other one labelled when
  // crowded), y ticks every `step`.
  const int every = (hi - lo) > 16 ? 2 : 1;
  for (int e = static_cast<int>(lo); e <= static_cast<int>(hi); ++e) {
    const double x = px(std::exp2(e));
    svg += formatf("<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#eee\"/>\n", x,
                   kTop, x, kTop + plotH);
    if ((e - static_cast<int>(lo)) % every == 0)
      svg += formatf("<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%s</text>\n", x,
                     kTop + plotH + 18, sizeLabel(std::exp2(e)).c_str());
  }
  for (double y = 0; y <= top + step / 2; y += step) {
    svg += formatf("<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#eee\"/>\n",
                   kLeft, py(y), kLeft + plotW, py(y));
    svg += formatf("<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", kLeft - 6,
                   py(y) + 4, y);
  }
  svg += formatf(
      "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
      "stroke=\"#333\"/>\n",
      kLeft, kTop, plotW, plotH);
  svg += formatf("<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">message size (bytes)</text>\n",
                 kLeft + plotW / 2, kHeight - 18);
  svg += formatf(
      "<text transform=\"translate(18 %.0f) rotate(-90)\" text-anchor=\"middle\">%s</text>\n",
      kTop + plotH / 2, escape(plot.yLabel).c_str());

  int drawn = 0;
  for (const PlotSeries& s : plot.series) {
    if (s.points.empty()) continue;
    const char* color = s.emphasized ? "#000" : kColors[drawn % std::size(kColors)];
    const double width = s.emphasized ? 3 : 1.5;
    std::string points;
    for (auto [x, y] : s.points)
      if (x > 0) points += formatf("%.1f,%.1f ", px(x), py(y));
    svg +=
        formatf("<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%.1f\"%s points=\"%s\"/>\n",
                color, width, s.emphasized ? " stroke-dasharray=\"6 3\"" : "", points.c_str());
    const double ly = kTop + 10 + 18 * drawn;
    svg += formatf(
        "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"%s\" "
        "stroke-width=\"%.1f\"/><text x=\"%.0f\" y=\"%.0f\">%s</text>\n",
        kLeft + plotW + 12, ly, kLeft + plotW + 36, ly, color, width, kLeft + plotW + 42, ly + 4,
        escape(s.name).c_str());
    ++drawn;
  }
  return svg + "</svg>\n";
}

bool writePlot(const std::string& path, const PlotSpec& plot, std::ostream& err) {
  if (path.size() < 4 || path.compare(path.size() - 4, 4, ".svg") != 0) {
    err << "prism-bench: --plot " << path << ": only SVG is written (name it *.svg)\n";
    return false;
  }
  std::ofstream file(path);
  file << renderPlot(plot);
  if (!file) {
    err << "prism-bench: cannot write " << path << "\n";
    return false;
  }
  return true;
}

}  // namespace prism::bench

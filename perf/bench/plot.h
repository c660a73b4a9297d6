// prism-bench --plot FILE.svg: bandwidth against message size as a self-contained SVG line
// chart (sizes on a log2 axis, one line per series), for measured sweeps and simulations.
#pragma once

#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

namespace prism::bench {

struct PlotSeries {
  std::string name;
  std::vector<std::pair<double, double>> points;  ///< (bytes, GB/s), in size order
  bool emphasized = false;                        ///< drawn thicker (the chosen algorithm)
};

struct PlotSpec {
  std::string title;
  std::string yLabel = "busbw (GB/s)";
  std::vector<PlotSeries> series;
};

/// The SVG document. Series without points are left out of the chart and the legend.
std::string renderPlot(const PlotSpec& plot);

/// Writes renderPlot to `path` (which must end in .svg); false with a reason on `err`.
bool writePlot(const std::string& path, const PlotSpec& plot, std::ostream& err);

}  // namespace prism::bench

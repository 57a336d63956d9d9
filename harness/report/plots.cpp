#include "harness/report/plots.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "harness/core/schema.h"

namespace lb {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// One data block per run ("x y" lines), separated by two blank lines for gnuplot's `index`.
struct Series {
  std::vector<std::string> names;
  std::string data;
};

// `value` (ppl, accuracy, ...) against T / L for each run's results under `protocol` (and `task`).
Series length_series(const json& report, const std::string& protocol, const std::string& task, const std::string& value) {
  Series s;
  for (const auto& run : report.at(key::runs)) {
    std::string block;
    const double L = run.at(key::train_length).get<double>();
    for (const auto& r : run.value(key::results, json::array()))
      if (r.at(key::protocol) == protocol && r.value(key::task, "") == task)
        block += fmt::format("{} {}\n", r.at(key::eval_length).get<double>() / L, r.at(value).get<double>());
    if (block.empty()) continue;
    s.names.push_back(run.at(key::name));
    s.data += block + "\n\n";
  }
  return s;
}

Series curve_series(const json& report, const std::string& protocol, int64_t* longest_out) {
  int64_t longest = 0;
  for (const auto& run : report.at(key::runs))
    for (const auto& r : run.value(key::results, json::array()))
      if (r.at(key::protocol) == protocol) longest = std::max<int64_t>(longest, r.at(key::eval_length));
  Series s;
  for (const auto& run : report.at(key::runs)) {
    const double L = run.at(key::train_length).get<double>();
    for (const auto& r : run.value(key::results, json::array())) {
      if (r.at(key::protocol) != protocol || r.at(key::eval_length) != longest) continue;
      std::string block;
      for (const auto& point : r.at(key::curve)) block += fmt::format("{} {}\n", point[0].get<double>() / L, point[1].get<double>());
      s.names.push_back(run.at(key::name));
      s.data += block + "\n\n";
    }
  }
  *longest_out = longest;
  return s;
}

std::string plot_command(const std::string& data_file, const Series& s) {
  std::string cmd = "plot ";
  for (size_t i = 0; i < s.names.size(); ++i)
    cmd += fmt::format("{}{} index {} using 1:2 with linespoints title {}", i ? ", " : "", quoted(data_file), i,
                       quoted(s.names[i]));
  return cmd + "\n";
}

// One plot: writes the series' data file and returns its gnuplot stanza, with a dashed line at
// x = 1 (the training length) and `axes` set before and `reset` after it.
std::string stanza(const fs::path& data_file, const Series& s, const fs::path& png, const std::string& title,
                   const std::string& xlabel, const std::string& axes, const std::string& reset = "") {
  std::ofstream(data_file) << s.data;
  return fmt::format("set output {}\nset title {}\nset xlabel '{}'\n{}set xtics 0.5\n"
                     "set arrow 1 from 1, graph 0 to 1, graph 1 nohead dashtype 2\n{}unset arrow 1\n{}",
                     quoted(png.string()), quoted(title), xlabel, axes, plot_command(data_file.string(), s), reset);
}

}  // namespace

std::vector<std::string> write_plots(const json& report, const std::string& out_dir) {
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
    spdlog::warn("gnuplot not found (scripts/setup installs gnuplot-nox); no plots written");
    return {};
  }
  const fs::path dir(out_dir), work = dir / ".plot";
  fs::create_directories(work);
  // Fit the y range to the data (a log axis otherwise snaps to whole decades).
  std::string script =
      "set terminal pngcairo size 1000,640 enhanced font 'Sans,11'\nset grid\nset key outside right\n"
      "set autoscale yfix\nset autoscale xfix\nset offsets 0.1, 0.1, graph 0.05, graph 0.05\n"
      "set for [i=1:12] linetype i linewidth 2 pointsize 1.2\n"
      "set linetype 5 linecolor rgb '#b8860b'\n";
  std::vector<std::string> written;
  const std::string title = report.at(key::name);
  for (const std::string protocol : {"nonoverlapping", "sliding"}) {
    Series ppl = length_series(report, protocol, "", "ppl");
    if (ppl.names.empty()) continue;
    const std::string suffix = protocol == "nonoverlapping" ? "" : "_sliding";
    const auto png = (dir / ("ppl_vs_length" + suffix + ".png")).string();
    script += stanza(work / ("ppl" + suffix + ".dat"), ppl, png, fmt::format("{}: perplexity vs length ({})", title, protocol),
                     "evaluation length / training length L",
                     "set ylabel 'perplexity (per token, log scale)'\nset logscale y\n"
                     "set ytics (1.5,2,2.5,3,4,5,6,7,8,9,10,12,14,16,18,20,25,30,40,50,60,80,100,150,200,300,500,1000,3000,10000)\n",
                     "unset logscale y\nset ytics auto\n");
    written.push_back(png);

    // Per-position loss only for non-overlapping windows: under sliding windows positions before
    // T - S are scored in the first window alone, so their curve would be one window's noise.
    if (protocol != "nonoverlapping") continue;
    int64_t longest = 0;
    Series curve = curve_series(report, protocol, &longest);
    const auto curve_png = (dir / ("loss_by_position" + suffix + ".png")).string();
    script += stanza(work / ("curve" + suffix + ".dat"), curve, curve_png,
                     fmt::format("{}: loss by position at T = {} ({})", title, longest, protocol),
                     "position in window / training length L", "set ylabel 'mean next-token loss (nats)'\n");
    written.push_back(curve_png);
  }
  std::vector<std::string> tasks;
  for (const auto& run : report.at(key::runs))
    for (const auto& r : run.value(key::results, json::array()))
      if (r.contains(key::task) && std::find(tasks.begin(), tasks.end(), r[key::task]) == tasks.end()) tasks.push_back(r[key::task]);
  for (const auto& task : tasks) {
    const auto png = (dir / ("accuracy_" + task + ".png")).string();
    script += stanza(work / ("accuracy_" + task + ".dat"), length_series(report, "task", task, "accuracy"), png,
                     fmt::format("{}: {} exact match vs length", title, task), "evaluation length / training length L",
                     "set ylabel 'exact match (fraction of instances)'\nset yrange [-0.02:1.02]\n", "set autoscale y\n");
    written.push_back(png);
  }
  const auto script_path = (work / "plots.gp").string();
  std::ofstream(script_path) << script;
  if (std::system(fmt::format("gnuplot {} 2>{}", quoted(script_path), quoted((work / "gnuplot.log").string())).c_str()) != 0) {
    spdlog::warn("gnuplot failed; see {}", (work / "gnuplot.log").string());
    return {};
  }
  fs::remove_all(work);
  return written;
}

}  // namespace lb

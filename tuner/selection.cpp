#include "tuner/selection.h"

#include <array>
#include <cmath>
#include <limits>
#include <sstream>

#include "common/error.h"

namespace qtune {

namespace {
std::string pct(double x) {
  std::ostringstream o;
  o.precision(3);
  o << x * 100 << "%";
  return o.str();
}
}  // namespace

Verdict judge_trial(const std::string& status, std::optional<double> accuracy,
                    std::optional<double> latency_ms_p50, std::optional<int64_t> size_bytes,
                    const Json& baseline, const Constraints& c,
                    std::optional<double> bits_per_weight) {
  Verdict v;
  const double base = baseline.at("value").get<double>();
  const bool higher_is_better = baseline.value("higher_is_better", true);
  if (accuracy) {
    const double diff = higher_is_better ? base - *accuracy : *accuracy - base;
    v.accuracy_loss = c.relative_loss ? (base != 0 ? diff / std::fabs(base) : diff) : diff;
  }
  if (status != "COMPLETED") {
    v.reason = "trial " + status;
    return v;
  }
  if (!v.accuracy_loss) {
    v.reason = "no accuracy";
    return v;
  }
  std::ostringstream why;
  // The tolerance absorbs the rounding of the division, so a loss of exactly
  // the limit (as the user would compute it) passes.
  if (*v.accuracy_loss > c.max_accuracy_loss + 1e-12)
    why << "accuracy loss "
        << (c.relative_loss ? pct(*v.accuracy_loss) : std::to_string(*v.accuracy_loss)) << " > "
        << (c.relative_loss ? pct(c.max_accuracy_loss) : std::to_string(c.max_accuracy_loss));
  if (c.max_latency_ms && (!latency_ms_p50 || *latency_ms_p50 > *c.max_latency_ms))
    why << (why.tellp() > 0 ? "; " : "") << "latency p50 "
        << (latency_ms_p50 ? std::to_string(*latency_ms_p50) : std::string("unknown")) << " ms > "
        << *c.max_latency_ms << " ms";
  if (c.max_size_bytes && (!size_bytes || *size_bytes > *c.max_size_bytes))
    why << (why.tellp() > 0 ? "; " : "") << "size "
        << (size_bytes ? std::to_string(*size_bytes) : std::string("unknown")) << " B > "
        << *c.max_size_bytes << " B";
  // The same rounding tolerance as the loss: 3.5 bpw computed from bytes may
  // land a few ulps above the 3.5 the user wrote.
  if (c.max_bits_per_weight &&
      (!bits_per_weight || *bits_per_weight > *c.max_bits_per_weight + 1e-9)) {
    std::ostringstream bpw;
    if (bits_per_weight)
      bpw << *bits_per_weight;
    else
      bpw << "none (no layer quantized)";
    why << (why.tellp() > 0 ? "; " : "") << "bits per weight " << bpw.str() << " > "
        << *c.max_bits_per_weight;
  }
  v.reason = why.str();
  v.passed = v.reason.empty();
  return v;
}

bool dominates(const TrialRecord& a, const TrialRecord& b) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  const auto key = [&](const TrialRecord& t) {
    return std::array<double, 3>{
        t.accuracy_loss.value_or(kInf),
        t.size_bytes ? static_cast<double>(*t.size_bytes) : kInf,
        t.latency_ms_p50.value_or(kInf),
    };
  };
  const auto ka = key(a), kb = key(b);
  bool strictly = false;
  for (size_t i = 0; i < ka.size(); ++i) {
    if (ka[i] > kb[i]) return false;
    strictly = strictly || ka[i] < kb[i];
  }
  return strictly;
}

std::vector<size_t> pareto_front(const std::vector<TrialRecord>& trials) {
  std::vector<size_t> ok;
  for (size_t i = 0; i < trials.size(); ++i)
    if (trials[i].status == "COMPLETED" && trials[i].passed.value_or(false)) ok.push_back(i);
  std::vector<size_t> front;
  for (size_t i : ok) {
    bool dominated = false;
    for (size_t j : ok) dominated = dominated || dominates(trials[j], trials[i]);
    if (!dominated) front.push_back(i);
  }
  return front;
}

std::optional<size_t> select_best(const std::vector<TrialRecord>& trials,
                                  const std::string& objective, const std::string& strategy,
                                  const std::string& select) {
  if (objective == "pareto" && strategy != "first-pass") {
    QT_CHECK(select == "size" || select == "accuracy" || select == "latency", "unknown select \"",
             select, "\" (expected size, accuracy or latency)");
    const std::vector<size_t> front = pareto_front(trials);
    std::vector<TrialRecord> on_front;
    for (size_t i : front) on_front.push_back(trials[i]);
    const auto pick = select_best(on_front, select, strategy);
    if (!pick) return std::nullopt;
    return front[*pick];
  }
  std::vector<size_t> ok;
  for (size_t i = 0; i < trials.size(); ++i)
    if (trials[i].status == "COMPLETED" && trials[i].passed.value_or(false)) ok.push_back(i);
  if (ok.empty()) return std::nullopt;

  const auto index = [&](size_t i) { return trials[i].index; };
  const auto size = [&](size_t i) {
    return trials[i].size_bytes.value_or(std::numeric_limits<int64_t>::max());
  };
  // The loss against the baseline is "lower is better" whatever the metric's
  // direction (top-1 up, perplexity down), so ranking by it serves both.
  const auto loss = [&](size_t i) {
    return trials[i].accuracy_loss.value_or(std::numeric_limits<double>::infinity());
  };
  const auto lat = [&](size_t i) {
    return trials[i].latency_ms_p50.value_or(std::numeric_limits<double>::infinity());
  };

  // Returns true when a is strictly preferred to b.
  std::function<bool(size_t, size_t)> better;
  if (strategy == "first-pass") {
    better = [&](size_t a, size_t b) { return index(a) < index(b); };
  } else if (objective == "size") {
    better = [&](size_t a, size_t b) {
      if (size(a) != size(b)) return size(a) < size(b);
      if (loss(a) != loss(b)) return loss(a) < loss(b);
      return index(a) < index(b);
    };
  } else if (objective == "accuracy") {
    better = [&](size_t a, size_t b) {
      if (loss(a) != loss(b)) return loss(a) < loss(b);
      if (size(a) != size(b)) return size(a) < size(b);
      return index(a) < index(b);
    };
  } else if (objective == "latency") {
    double fastest = std::numeric_limits<double>::infinity();
    for (size_t i : ok) fastest = std::min(fastest, lat(i));
    std::vector<size_t> tied;
    for (size_t i : ok)
      if (lat(i) <= fastest * (1 + kLatencyTieTolerance)) tied.push_back(i);
    ok = tied;
    better = [&](size_t a, size_t b) {
      if (size(a) != size(b)) return size(a) < size(b);
      return index(a) < index(b);
    };
  } else {
    throw Error("unknown objective \"" + objective +
                "\" (expected latency, size, accuracy or pareto)");
  }
  size_t best = ok.front();
  for (size_t i : ok)
    if (better(i, best)) best = i;
  return best;
}

}  // namespace qtune

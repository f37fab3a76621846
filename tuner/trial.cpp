#include "tuner/trial.h"

#include <unistd.h>

#include <cstdio>

#include "common/content_hash.h"
#include "common/error.h"

namespace qtune {

std::string canonical_json(const Json& value) {
  // Re-parsing into nlohmann::json sorts object keys (std::map); dump() then
  // prints them in that order with no whitespace.
  return nlohmann::json::parse(value.dump()).dump();
}

std::string fnv1a_hex(const std::string& bytes) {
  Fnv1a64 h;
  h.update(bytes.data(), bytes.size());
  return h.hex();
}

std::string config_hash(const Json& config) { return fnv1a_hex(canonical_json(config)); }

namespace {
template <typename T>
void put(Json& j, const char* key, const std::optional<T>& v) {
  if (v)
    j[key] = *v;
  else
    j[key] = nullptr;
}
template <typename T>
std::optional<T> get_opt(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  return it->get<T>();
}
}  // namespace

Json TrialResult::to_json() const {
  Json j;
  j["trial"] = index;
  j["config_hash"] = config_hash;
  j["status"] = status;
  j["error"] = error;
  put(j, "accuracy", accuracy);
  put(j, "latency_ms_p50", latency_ms_p50);
  put(j, "latency_ms_p90", latency_ms_p90);
  put(j, "latency_spread", latency_spread);
  put(j, "size_bytes", size_bytes);
  j["rank"] = rank;
  j["host"] = host;
  j["started_at"] = started_at;
  j["ended_at"] = ended_at;
  j["seconds"] = seconds;
  j["metrics"] = metrics;
  return j;
}

TrialResult TrialResult::from_json(const Json& j) {
  TrialResult r;
  r.index = j.at("trial").get<int64_t>();
  r.config_hash = j.at("config_hash").get<std::string>();
  r.status = j.at("status").get<std::string>();
  r.error = j.at("error").get<std::string>();
  r.accuracy = get_opt<double>(j, "accuracy");
  r.latency_ms_p50 = get_opt<double>(j, "latency_ms_p50");
  r.latency_ms_p90 = get_opt<double>(j, "latency_ms_p90");
  r.latency_spread = get_opt<double>(j, "latency_spread");
  r.size_bytes = get_opt<int64_t>(j, "size_bytes");
  r.rank = j.at("rank").get<int>();
  r.host = j.at("host").get<std::string>();
  r.started_at = j.at("started_at").get<std::string>();
  r.ended_at = j.at("ended_at").get<std::string>();
  r.seconds = j.at("seconds").get<double>();
  r.metrics = j.at("metrics");
  return r;
}

const char* scored_on_name(ScoredOn on) {
  return on == ScoredOn::kCalibration ? "calibration" : "evaluation";
}

ScoredOn scored_on_from_name(const std::string& name) {
  if (name == "evaluation") return ScoredOn::kEvaluation;
  if (name == "calibration") return ScoredOn::kCalibration;
  throw Error("scored_on: expected evaluation or calibration, got '" + name + "'");
}

std::string host_name() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

}  // namespace qtune

// Canonical trial JSON and its hash: independent of key order, stable across
// runs (pinned values), and a trial result survives its JSON round trip.
#include "tuner/trial.h"

#include <gtest/gtest.h>

namespace qtune {
namespace {

TEST(CanonicalJson, SortsKeysAtEveryLevel) {
  Json a = Json::object();
  a["b"] = 1;
  a["a"] = {{"y", 2}, {"x", Json::array({1, 2})}};
  Json b = Json::object();
  b["a"] = {{"x", Json::array({1, 2})}, {"y", 2}};
  b["b"] = 1;
  EXPECT_NE(a.dump(), b.dump()) << "ordered_json keeps insertion order";
  EXPECT_EQ(canonical_json(a), R"({"a":{"x":[1,2],"y":2},"b":1})");
  EXPECT_EQ(canonical_json(a), canonical_json(b));
  EXPECT_EQ(config_hash(a), config_hash(b));
  // Array order is meaningful and kept.
  Json c = b;
  c["a"]["x"] = Json::array({2, 1});
  EXPECT_NE(config_hash(b), config_hash(c));
}

TEST(Fnv1a, PublishedTestVectors) {
  // From the FNV reference test suite (64-bit FNV-1a).
  EXPECT_EQ(fnv1a_hex(""), "cbf29ce484222325");
  EXPECT_EQ(fnv1a_hex("a"), "af63dc4c8601ec8c");
  EXPECT_EQ(fnv1a_hex("foobar"), "85944171f73967e8");
}

TEST(ConfigHash, QuantConfigHashIsPinned) {
  QuantConfig q;
  q.algorithm = "rtn";
  q.params = {{"bits", 4}, {"group_size", 32}};
  q.backend = "auto";
  const std::string h = config_hash(q);
  // Pinned (cross-checked with a separate Python FNV-1a): a change to the canonical form or hash
  // silently orphans every stored run (resume would no longer find it).
  EXPECT_EQ(canonical_json(q.to_json()),
            R"({"algorithm":"rtn","backend":"auto","fp32_layers":[],"overrides":[],)"
            R"("params":{"bits":4,"group_size":32}})");
  EXPECT_EQ(h, "9e460eff50e45298");
  QuantConfig r = q;
  r.params = {{"group_size", 32}, {"bits", 4}};  // same values, other order
  EXPECT_EQ(config_hash(r), h);
  r.params["bits"] = 8;
  EXPECT_NE(config_hash(r), h);
}

TEST(TrialResult, JsonRoundTripKeepsEveryField) {
  TrialResult r;
  r.index = 3;
  r.config_hash = "0123456789abcdef";
  r.status = "COMPLETED";
  r.accuracy = 0.1 + 0.2;  // not exactly representable in decimal: must survive bit for bit
  r.latency_ms_p50 = 1.25;
  r.latency_ms_p90 = 1.5;
  r.latency_spread = 0.2;
  r.size_bytes = 12345;
  r.rank = 2;
  r.host = "h";
  r.started_at = "2024-01-01T00:00:00Z";
  r.ended_at = "2024-01-01T00:00:01Z";
  r.seconds = 1.0;
  r.metrics = {{"metric", "accuracy"}};
  const TrialResult back = TrialResult::from_json(Json::parse(r.to_json().dump()));
  EXPECT_EQ(back.to_json(), r.to_json());
  EXPECT_EQ(*back.accuracy, 0.1 + 0.2);

  TrialResult failed;
  failed.index = 0;
  failed.config_hash = "x";
  failed.status = "FAILED";
  failed.error = "boom";
  const TrialResult fb = TrialResult::from_json(Json::parse(failed.to_json().dump()));
  EXPECT_FALSE(fb.accuracy);
  EXPECT_FALSE(fb.size_bytes);
  EXPECT_EQ(fb.error, "boom");
}

}  // namespace
}  // namespace qtune

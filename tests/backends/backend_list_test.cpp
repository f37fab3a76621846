// The one backend list and its choice: the order is a preference order with
// eager last, "auto" takes the first backend of the layer's family that runs
// it and records exactly the ones skipped before it with their own reasons.
#include "backends/backend_list.h"

#include <gtest/gtest.h>

#include <set>

#include "support/expect_error.h"

namespace qtune {
namespace {

QuantSpec w4_group32() {
  QuantSpec s;
  s.bits = 4;
  s.scheme = Scheme::kAsym;
  s.granularity = Granularity::kPerGroup;
  s.group_size = 32;
  return s;
}

Int8Layer int8_layer(bool dynamic) {
  at::manual_seed(3);
  QuantSpec s;
  s.bits = 8;
  s.scheme = Scheme::kSym;
  s.granularity = Granularity::kPerChannel;
  ActivationQuant a;
  a.dynamic = dynamic;
  a.scale = 0.02f;
  a.zero_point = 10;
  return Int8Layer{QuantizedWeight::from_float(at::randn({8, 16}), s), a, std::nullopt};
}

/// The reason choose_backend must give for "auto", worked out from the list
/// and each backend's own supports().
template <typename Layer>
std::string expected_auto_reason(LayerKind kind, const Layer& layer, bool int8,
                                 std::string* chosen) {
  std::string skipped;
  for (const Backend& b : backends()) {
    if (!(int8 ? b.runs_int8() : b.runs_weight_only())) continue;
    std::string why;
    if (b.supports(kind, layer, &why)) {
      *chosen = b.name;
      std::string r = "auto";
      if (const std::string note = b.auto_note(layer); !note.empty()) r += ": " + note;
      if (!skipped.empty()) r += "; skipped " + skipped;
      return r;
    }
    EXPECT_FALSE(why.empty()) << b.name << " declined without a reason";
    skipped += (skipped.empty() ? "" : ", ") + b.name + ": " + why;
  }
  ADD_FAILURE() << "no backend runs the layer";
  return "";
}

TEST(BackendList, OneListEagerLastUniqueNames) {
  const std::vector<Backend>& list = backends();
  ASSERT_GE(list.size(), 2u);
  EXPECT_EQ(list.back().name, "eager");
  EXPECT_TRUE(list.back().runs_weight_only() && list.back().runs_int8());
  std::set<std::string> names;
  for (const Backend& b : list) {
    EXPECT_TRUE(names.insert(b.name).second) << "twice: " << b.name;
    EXPECT_TRUE(b.runs_weight_only() || b.runs_int8()) << b.name << " runs nothing";
    EXPECT_NE(b.name, "auto");
  }
  EXPECT_EQ(backend_names().size(), list.size());
  EXPECT_EQ(backend_names().front(), list.front().name);
  for (const Backend& b : list) EXPECT_EQ(&backend_by_name(b.name), &b);
}

TEST(BackendList, AutoReasonListsExactlyTheSkippedBackendsOfTheFamily) {
  for (const LayerKind kind : {LayerKind::kLinear, LayerKind::kConv2d}) {
    std::string want_name, reason;
    const std::string want = expected_auto_reason(kind, w4_group32(), false, &want_name);
    const Backend& b = choose_backend("auto", kind, w4_group32(), &reason);
    EXPECT_EQ(b.name, want_name);
    EXPECT_EQ(reason, want);
    for (const Backend& other : backends())
      if (!other.runs_weight_only())  // not a candidate: never named as skipped
        EXPECT_EQ(reason.find(other.name + ":"), std::string::npos) << reason;
  }
  for (const bool dynamic : {false, true}) {
    const Int8Layer layer = int8_layer(dynamic);
    std::string want_name, reason;
    const std::string want = expected_auto_reason(LayerKind::kLinear, layer, true, &want_name);
    const Backend& b = choose_backend("auto", LayerKind::kLinear, layer, &reason);
    EXPECT_EQ(b.name, want_name);
    EXPECT_EQ(reason, want);
    EXPECT_NE(b.name, "eager") << "a fast int8 backend runs every CPU: " << reason;
  }
}

// The detail recorded with each layer names the backend first, then (for
// backends with several paths) the ISA and path of this kernel.
TEST(BackendList, KernelDetailStartsWithItsBackend) {
  const QuantizedWeight w = QuantizedWeight::from_float(at::randn({8, 64}), w4_group32());
  int kernels = 0;
  for (const Backend& b : backends()) {
    std::string why;
    if (b.supports(LayerKind::kLinear, w4_group32(), &why)) {
      const std::string detail =
          b.make_kernel(LayerKind::kLinear, w, std::nullopt, {})->backend_detail();
      EXPECT_EQ(detail.rfind(b.name, 0), 0u) << b.name << ": " << detail;
      ++kernels;
    }
    const Int8Layer layer = int8_layer(false);
    if (b.supports(LayerKind::kLinear, layer, &why)) {
      const std::string detail = b.make_kernel(LayerKind::kLinear, layer, {})->backend_detail();
      EXPECT_EQ(detail.rfind(b.name, 0), 0u) << b.name << ": " << detail;
      ++kernels;
    }
  }
  EXPECT_GE(kernels, 2) << "eager runs both families";
}

TEST(BackendList, RequestedBackendMustRunTheLayer) {
  std::string reason;
  EXPECT_EQ(choose_backend("eager", LayerKind::kLinear, w4_group32(), &reason).name, "eager");
  EXPECT_EQ(reason, backend_reason::kRequested);
  EXPECT_EQ(choose_backend("eager", LayerKind::kLinear, int8_layer(true), &reason).name, "eager");
  EXPECT_EQ(reason, backend_reason::kRequested);
  int checked = 0;
  for (const Backend& b : backends()) {
    std::string why;
    if (!b.runs_weight_only()) {
      ++checked;
      EXPECT_FALSE(b.supports(LayerKind::kLinear, w4_group32(), &why));
      EXPECT_EQ(why, backend_reason::kNoWeightOnly);
      testing::expect_error(
          [&] { choose_backend(b.name, LayerKind::kLinear, w4_group32(), nullptr); },
          "backend '" + b.name + "' cannot run Linear int4 asym: no weight-only kernels");
      testing::expect_error(
          [&] {
            b.make_kernel(LayerKind::kLinear,
                          QuantizedWeight::from_float(at::ones({4, 32}), w4_group32()),
                          std::nullopt, {});
          },
          "backend '" + b.name + "' no weight-only kernels");
    }
    if (!b.runs_int8()) {
      ++checked;
      EXPECT_FALSE(b.supports(LayerKind::kLinear, int8_layer(false), &why));
      EXPECT_EQ(why, backend_reason::kNoInt8);
      testing::expect_error(
          [&] { choose_backend(b.name, LayerKind::kLinear, int8_layer(false), nullptr); },
          "backend '" + b.name + "' cannot run Linear int8 static u8: no int8 kernels");
    }
  }
  EXPECT_GT(checked, 0) << "every backend runs both families: nothing was tested";
  testing::expect_error([] { backend_by_name("fpga"); },
                        "unknown backend 'fpga': expected auto or one of ");
  testing::expect_error([] { choose_backend("fpga", LayerKind::kLinear, w4_group32(), nullptr); },
                        "unknown backend 'fpga'");
}

}  // namespace
}  // namespace qtune

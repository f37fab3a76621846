// Which ISA the native int8 kernels run: the CPU's best, capped by
// QTUNE_MAX_ISA so that tests run every path on one machine (as oneDNN's
// ONEDNN_MAX_CPU_ISA).
#include <cstdlib>

#include "backends/native/int8_gemm.h"
#include "common/error.h"

namespace qtune::native {

std::string to_string(Int8Isa isa) {
  switch (isa) {
    case Int8Isa::kRef:
      return "ref";
    case Int8Isa::kAvx2:
      return "avx2";
    case Int8Isa::kAvx512:
      return "avx512";
  }
  QT_ASSERT(false, "unknown Int8Isa ", static_cast<int>(isa));
  return "";
}

Int8Isa int8_active_isa(std::string* reason) {
  // libgcc's __builtin_cpu_supports also checks that the OS saves the AVX and
  // AVX-512 register state (XCR0), so a "yes" here is safe to execute.
  static const bool avx2 = __builtin_cpu_supports("avx2");
  static const bool avx512 =
      avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
  const Int8Isa cpu = avx512 ? Int8Isa::kAvx512 : avx2 ? Int8Isa::kAvx2 : Int8Isa::kRef;
  std::string why = cpu == Int8Isa::kAvx512 ? "CPU has AVX-512 VNNI"
                    : cpu == Int8Isa::kAvx2 ? "CPU has AVX2 but no AVX-512 VNNI"
                                            : "CPU has no AVX2";
  Int8Isa isa = cpu;
  const char* cap_env = std::getenv("QTUNE_MAX_ISA");
  if (cap_env != nullptr && *cap_env != '\0') {
    const std::string cap_name = cap_env;
    QT_CHECK(cap_name == "ref" || cap_name == "avx2" || cap_name == "avx512",
             "QTUNE_MAX_ISA: expected ref, avx2 or avx512, got '", cap_name, "'");
    const Int8Isa cap = cap_name == "ref"    ? Int8Isa::kRef
                        : cap_name == "avx2" ? Int8Isa::kAvx2
                                             : Int8Isa::kAvx512;
    if (cap < cpu) {
      isa = cap;
      why += ", capped by QTUNE_MAX_ISA=" + cap_name;
    }
  }
  if (reason) *reason = why;
  return isa;
}

}  // namespace qtune::native

// Which ISA the native kernels run: the CPU's best, capped by QTUNE_MAX_ISA
// so that tests run every path on one machine (as oneDNN's ONEDNN_MAX_CPU_ISA).
#include <cstdlib>
#include <string>

#include "backends/native/woq_gemm.h"
#include "common/error.h"

namespace qtune::native {

std::string to_string(Isa isa) {
  switch (isa) {
    case Isa::kRef:
      return "ref";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512";
  }
  QT_ASSERT(false, "unknown Isa ", static_cast<int>(isa));
  return "";
}

std::string to_string(Path path) {
  switch (path) {
    case Path::kInt8Activations:
      return "int8-act";
    case Path::kFloat:
      return "fma";
    case Path::kDequantized:
      return "dequant+gemm";
  }
  QT_ASSERT(false, "unknown Path ", static_cast<int>(path));
  return "";
}

bool path_supports(Path path, CodeFormat format) {
  return path != Path::kInt8Activations || format != CodeFormat::kTable4;
}

bool int8_gemm_serves(CodeFormat format, bool zero_points) {
  return format == CodeFormat::kU4 || (format == CodeFormat::kS8 && !zero_points);
}

namespace {

// libgcc's __builtin_cpu_supports also checks that the OS saves the AVX and
// AVX-512 register state (XCR0), so a "yes" here is safe to execute.
bool has_avx2() {
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
         __builtin_cpu_supports("f16c");
}

bool has_avx512() {
  return has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
}

}  // namespace

Isa detect_cpu_isa() {
  static const Isa isa = has_avx512() ? Isa::kAvx512 : has_avx2() ? Isa::kAvx2 : Isa::kRef;
  return isa;
}

Isa active_isa(std::string* reason) {
  const Isa cpu = detect_cpu_isa();
  const char* cap_env = std::getenv("QTUNE_MAX_ISA");
  Isa isa = cpu;
  if (cap_env != nullptr && *cap_env != '\0') {
    const std::string cap_name = cap_env;
    Isa cap = Isa::kRef;
    if (cap_name == "ref")
      cap = Isa::kRef;
    else if (cap_name == "avx2")
      cap = Isa::kAvx2;
    else if (cap_name == "avx512")
      cap = Isa::kAvx512;
    else
      QT_CHECK(false, "QTUNE_MAX_ISA: expected ref, avx2 or avx512, got '", cap_name, "'");
    if (cap < cpu) {
      if (reason) *reason = "QTUNE_MAX_ISA=" + cap_name + " caps the CPU's " + to_string(cpu);
      return cap;
    }
  }
  if (reason) {
    switch (isa) {
      case Isa::kAvx512:
        *reason = "CPU has AVX-512 F/BW/VL/VNNI";
        break;
      case Isa::kAvx2:
        *reason = "CPU has AVX2/FMA/F16C, not AVX-512 F/BW/VL/VNNI";
        break;
      case Isa::kRef:
        *reason = "CPU lacks AVX2/FMA/F16C";
        break;
    }
  }
  return isa;
}

const IsaKernels& kernels_for(Isa isa) {
  QT_CHECK(isa <= detect_cpu_isa(), "native kernels: ISA ", to_string(isa),
           " is not available on this CPU (best: ", to_string(detect_cpu_isa()), ")");
  switch (isa) {
    case Isa::kRef:
      return ref_kernels();
    case Isa::kAvx2:
      return avx2_kernels();
    case Isa::kAvx512:
      return avx512_kernels();
  }
  QT_ASSERT(false, "unknown Isa ", static_cast<int>(isa));
  return ref_kernels();
}

}  // namespace qtune::native

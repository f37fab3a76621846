// Which instruction set the native kernels (weight-only and int8) run: one
// CPUID query, capped by QTUNE_MAX_ISA so that tests run every path on one
// machine (as oneDNN's ONEDNN_MAX_CPU_ISA). No ATen: ISA files include it.
#pragma once

#include <string>

namespace qtune::native {

enum class Isa { kRef, kAvx2, kAvx512 };  ///< kAvx2: AVX2, FMA, F16C; kAvx512: F, BW, VL and VNNI
std::string to_string(Isa isa);           ///< "ref" | "avx2" | "avx512"

/// The CPU's best ISA (CPUID).
Isa detect_cpu_isa();
/// min(detect_cpu_isa(), QTUNE_MAX_ISA=ref|avx2|avx512 when set); `reason`
/// says which CPU features or which cap decided. A bad QTUNE_MAX_ISA value is
/// a qtune::Error naming the variable.
Isa active_isa(std::string* reason = nullptr);

}  // namespace qtune::native

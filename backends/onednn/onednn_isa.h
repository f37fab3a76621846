// What oneDNN says about this CPU, for callers that must not include
// dnnl.hpp (only files under backends/onednn do).
#pragma once

#include <string>

namespace qtune::onednn {

/// The ISA oneDNN dispatches to here, after ONEDNN_MAX_CPU_ISA caps it
/// ("avx512_core_vnni", "avx2", ...).
std::string effective_isa_name();

}  // namespace qtune::onednn

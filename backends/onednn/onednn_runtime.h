// The process-wide oneDNN engine and per-thread streams, and what oneDNN says
// about this CPU. Only files under backends/onednn include dnnl.hpp.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>
#include <string>

#include "backends/onednn/onednn_isa.h"

namespace qtune::onednn {

/// The CPU engine, created once per process.
const dnnl::engine& cpu_engine();
/// A stream of this thread (a stream is not meant to be shared between threads).
dnnl::stream& thread_stream();

/// True when that ISA has int8 dot-product instructions (AVX512-VNNI,
/// AVX-VNNI or AMX): INC's condition for preferring oneDNN (IPEX) for int8.
bool has_int8_acceleration();

}  // namespace qtune::onednn

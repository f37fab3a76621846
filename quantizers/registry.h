// Private to quantizers/: the built-in algorithms, listed explicitly because
// static-initialization registration is dropped by the linker from static
// libraries. One factory per algorithm file.
#pragma once

#include <memory>
#include <vector>

#include "quantizers/quantizer.h"

namespace qtune {

std::shared_ptr<const Quantizer> make_rtn_quantizer();  ///< quantizers/rtn.cpp
std::shared_ptr<const Quantizer> make_gptq_quantizer();  ///< quantizers/gptq.cpp
std::shared_ptr<const Quantizer> make_hqq_quantizer();   ///< quantizers/hqq.cpp
std::shared_ptr<const Quantizer> make_awq_quantizer();        ///< quantizers/awq.cpp
std::shared_ptr<const Quantizer> make_teq_quantizer();        ///< quantizers/teq.cpp
std::shared_ptr<const Quantizer> make_autoround_quantizer();  ///< quantizers/autoround.cpp
std::shared_ptr<const Quantizer> make_static_quantizer();       ///< quantizers/static_ptq.cpp
std::shared_ptr<const Quantizer> make_dynamic_quantizer();      ///< quantizers/dynamic_ptq.cpp
std::shared_ptr<const Quantizer> make_smoothquant_quantizer();  ///< quantizers/smoothquant.cpp
std::shared_ptr<const Quantizer> make_qat_quantizer();          ///< quantizers/qat.cpp

/// Every built-in algorithm, in INC's registration order.
std::vector<std::shared_ptr<const Quantizer>> builtin_quantizers();

}  // namespace qtune

#include "quantizers/registry.h"

namespace qtune {

std::vector<std::shared_ptr<const Quantizer>> builtin_quantizers() {
  // Add new algorithms here (INC's order: RTN, GPTQ, static, SQ, AWQ, TEQ, AutoRound, HQQ).
  return {make_rtn_quantizer(),         make_gptq_quantizer(),      make_static_quantizer(),
          make_dynamic_quantizer(),     make_smoothquant_quantizer(), make_awq_quantizer(),
          make_teq_quantizer(),         make_autoround_quantizer(), make_hqq_quantizer(),
          make_qat_quantizer()};
}

}  // namespace qtune

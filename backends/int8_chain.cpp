#include "backends/int8_chain.h"

#include <cmath>

#include "common/error.h"

namespace qtune {

const Int8CodesKernel* codes_kernel(const LayerKernel& kernel) {
  const auto* int8 = dynamic_cast<const Int8Kernel*>(&kernel);
  if (!int8 || int8->int8_layer().input.dynamic || int8->int8_layer().input.is_signed)
    return nullptr;
  return dynamic_cast<const Int8CodesKernel*>(&kernel);
}

at::Tensor quantize_chain_input(const at::Tensor& x, const Int8Layer& layer) {
  check_codes_layer(layer, "int8 chain input");
  // Channels-last is the layout int8 convolutions run on; a Linear input keeps its own.
  const at::Tensor xf = x.dim() == 4 ? x.contiguous(at::MemoryFormat::ChannelsLast) : x;
  return quantize_activation(xf, ActivationQParams{layer.input.scale, layer.input.zero_point},
                             false);
}

CodesOutput codes_output_for(const Int8Layer& next, bool relu, int64_t max_pool) {
  check_codes_layer(next, "int8 chain output");
  return CodesOutput{next.input.scale, next.input.zero_point, relu, max_pool};
}

void check_codes_call(LayerKind kind, const at::Tensor& codes, const CodesOutput& out,
                      const std::string& where) {
  QT_CHECK(codes.scalar_type() == at::kByte, where, ": expected uint8 input codes, got ",
           codes.scalar_type());
  QT_CHECK(kind == LayerKind::kConv2d || codes.dim() == 2 || codes.dim() == 4, where,
           ": expected Linear input codes [M, in] or [N, C, H, W], got ", codes.sizes());
  QT_CHECK(std::isfinite(out.scale) && out.scale > 0, where,
           ": expected a positive finite output scale, got ", out.scale);
  QT_CHECK(out.zero_point >= 0 && out.zero_point <= 255, where,
           ": expected an output zero point in [0, 255], got ", out.zero_point);
  QT_CHECK(out.max_pool >= 1, where, ": expected a max-pool window >= 1, got ", out.max_pool);
  QT_CHECK(out.max_pool == 1 || kind == LayerKind::kConv2d, where,
           ": max-pooling the output needs a Conv2d, got ", to_string(kind));
}

void check_codes_layer(const Int8Layer& layer, const std::string& where) {
  QT_CHECK(!layer.input.dynamic && !layer.input.is_signed, where,
           ": expected a layer with static u8 input, got ",
           layer.input.dynamic ? "dynamic" : "static", " ", layer.input.is_signed ? "s8" : "u8");
}

}  // namespace qtune

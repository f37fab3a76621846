// The built-in Fashion-MNIST CNN. Private to models/.
//
//   x [N,1,28,28] -> conv1 (1->16, 3x3, pad 1) -> relu -> maxpool 2
//                 -> conv2 (16->32, 3x3, pad 1) -> relu -> maxpool 2 -> flatten [N,1568]
//                 -> fc1 (1568->128) -> relu -> fc2 (128->10) -> logits [N,10]
#pragma once

#include <map>
#include <string>
#include <vector>

#include "models/model.h"

namespace qtune {

struct FmnistLayerSpec {
  const char* name;
  LayerKind kind;
  std::vector<int64_t> weight_shape;
};

/// The four layers in forward order, with their weight shapes (bias = [out]).
const std::vector<FmnistLayerSpec>& fmnist_cnn_layers();
/// Conv geometry shared by conv1 and conv2: stride 1, padding 1.
ConvGeometry fmnist_conv_geometry();

/// Builds the model from "<layer>.weight"/"<layer>.bias" tensors (float32,
/// shapes as in fmnist_cnn_layers()); other names are ignored. A missing or
/// misshapen tensor is a qtune::Error naming it and `spec`.
ModelPtr make_fmnist_cnn(const std::string& spec, const std::map<std::string, at::Tensor>& tensors);

}  // namespace qtune

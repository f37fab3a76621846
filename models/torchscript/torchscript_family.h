// The TorchScript family of the model catalog (models/catalog.h):
// "torchscript:FILE.pt", a user's scripted or traced image classifier
// (models/torchscript/torchscript_model.h), with classifier task data.
#pragma once

#include "models/catalog.h"

namespace qtune {

/// The catalog's entry for torchscript: specs.
ModelFamily torchscript_family();

}  // namespace qtune

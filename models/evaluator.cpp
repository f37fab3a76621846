#include "models/evaluator.h"

#include <algorithm>
#include <vector>

#include "common/error.h"
#include "models/work_units.h"

namespace qtune {

EvalResult evaluate_top1(const Model& model, const Dataset& data, int64_t batch) {
  QT_CHECK(batch > 0, "evaluate_top1: batch size must be > 0, got ", batch);
  QT_CHECK(data.size() > 0, "evaluate_top1: the evaluation set of ", model.spec(), " is empty");
  QT_CHECK(data.labels.dim() == 1 && data.labels.size(0) == data.size(),
           "evaluate_top1: labels must have shape [", data.size(), "], got ", data.labels.sizes());
  // The result is a count of exact argmax matches, so it does not depend on
  // how many intra-op threads computed the logits unless a logit pair ties
  // to the last bit; batches run as work units (models/work_units.h), each
  // on one compute thread, so not even then.
  const int64_t batches = (data.size() + batch - 1) / batch;
  std::vector<int64_t> correct_in(static_cast<size_t>(batches), 0);
  for_each_unit(batches, [&](int64_t unit) {
    const int64_t begin = unit * batch;
    const int64_t end = std::min(data.size(), begin + batch);
    const at::Tensor logits = model.forward(data.inputs.slice(0, begin, end));
    QT_CHECK(logits.dim() == 2 && logits.size(0) == end - begin, "evaluate_top1: model ",
             model.spec(), " returned logits of shape ", logits.sizes(), " for a batch of ",
             end - begin, " (expected [", end - begin, ", classes])");
    const at::Tensor predicted = logits.argmax(1);
    correct_in[static_cast<size_t>(unit)] =
        predicted.eq(data.labels.slice(0, begin, end).to(at::kLong)).sum().item<int64_t>();
  });
  int64_t correct = 0;
  for (int64_t c : correct_in) correct += c;
  EvalResult r;
  r.metric = "accuracy";
  r.value = static_cast<double>(correct) / static_cast<double>(data.size());
  r.higher_is_better = true;
  r.samples = data.size();
  return r;
}

}  // namespace qtune

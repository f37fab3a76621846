#include "models/llama/generate.h"

#include <algorithm>

#include "common/error.h"

namespace qtune {

namespace {

void check_options(const LlamaModel& model, const std::vector<int64_t>& prompt,
                   const GenerateOptions& o) {
  QT_CHECK(!prompt.empty(), "generate: the prompt has no tokens");
  QT_CHECK(o.max_new_tokens >= 0, "generate: max_new_tokens must be >= 0, got ", o.max_new_tokens);
  QT_CHECK(o.top_k >= 1, "generate: top_k must be >= 1, got ", o.top_k);
  QT_CHECK(o.temperature > 0, "generate: temperature must be > 0, got ", o.temperature);
  const int64_t total = static_cast<int64_t>(prompt.size()) + o.max_new_tokens;
  QT_CHECK(total <= model.config().max_position_embeddings, "generate: prompt (", prompt.size(),
           " tokens) + max_new_tokens (", o.max_new_tokens, ") exceed the model's ",
           model.config().max_position_embeddings, " positions");
}

// Picks the next token from logits [V]. Greedy is an argmax (ties: lowest id);
// otherwise the top-k logits are softmaxed and sampled with the seeded generator.
int64_t pick(const at::Tensor& logits, const GenerateOptions& o, at::Generator& gen) {
  if (o.top_k == 1) return logits.argmax().item<int64_t>();
  const int64_t k = std::min<int64_t>(o.top_k, logits.size(0));
  const auto top = logits.topk(k);
  const at::Tensor probs = at::softmax(std::get<0>(top) / o.temperature, 0);
  const int64_t i = at::multinomial(probs, 1, false, gen).item<int64_t>();
  return std::get<1>(top)[i].item<int64_t>();
}

bool is_eos(const LlamaModel& model, int64_t id) {
  const auto& e = model.config().eos_token_ids;
  return std::find(e.begin(), e.end(), id) != e.end();
}

at::Tensor as_ids(const std::vector<int64_t>& ids) {
  return at::tensor(ids, at::kLong).unsqueeze(0);
}

}  // namespace

std::vector<int64_t> generate(const LlamaModel& model, const std::vector<int64_t>& prompt,
                              const GenerateOptions& o) {
  check_options(model, prompt, o);
  at::NoGradGuard no_grad;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(o.seed);
  LlamaKvCache cache;
  std::vector<int64_t> out;
  at::Tensor logits = model.forward_cached(as_ids(prompt), cache);
  while (static_cast<int64_t>(out.size()) < o.max_new_tokens) {
    const int64_t next = pick(logits[0][-1], o, gen);
    out.push_back(next);
    if (o.stop_at_eos && is_eos(model, next)) break;
    if (static_cast<int64_t>(out.size()) == o.max_new_tokens) break;
    logits = model.forward_cached(as_ids({next}), cache);
  }
  return out;
}

std::vector<int64_t> generate_uncached(const LlamaModel& model, const std::vector<int64_t>& prompt,
                                       const GenerateOptions& o) {
  check_options(model, prompt, o);
  at::NoGradGuard no_grad;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(o.seed);
  std::vector<int64_t> seq = prompt, out;
  while (static_cast<int64_t>(out.size()) < o.max_new_tokens) {
    const int64_t next = pick(model.forward(as_ids(seq))[0][-1], o, gen);
    out.push_back(next);
    seq.push_back(next);
    if (o.stop_at_eos && is_eos(model, next)) break;
  }
  return out;
}

}  // namespace qtune

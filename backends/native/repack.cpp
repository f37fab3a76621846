#include "backends/native/repack.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "common/fp16.h"
#include "quant/packing.h"

namespace qtune::native {

namespace {

/// Padded positions of a layout: the column each reads (-1 = padding) and the
/// scale group of each block.
struct Layout {
  std::vector<int32_t> column_of;    ///< [blocks * kBlock]
  std::vector<int64_t> block_group;  ///< [blocks]
  bool identity = false;             ///< column_of[p] == p for p < cols, -1 after
};

Layout make_layout(const QuantizedWeight& w) {
  const QuantSpec& spec = w.spec;
  const int64_t C = w.matrix_cols();
  const int64_t G = spec.groups_per_row(C);
  const int64_t gsize = spec.effective_group_size(C);
  Layout l;
  // Each group's columns in ascending order.
  std::vector<std::vector<int32_t>> members(G);
  if (spec.has_g_idx) {
    const int32_t* g_idx = w.g_idx.data_ptr<int32_t>();
    for (int64_t c = 0; c < C; ++c) members[g_idx[c]].push_back(static_cast<int32_t>(c));
  } else {
    for (int64_t c = 0; c < C; ++c) members[c / gsize].push_back(static_cast<int32_t>(c));
  }
  for (int64_t g = 0; g < G; ++g) {
    const auto& cols = members[g];
    const int64_t nblocks = (static_cast<int64_t>(cols.size()) + kBlock - 1) / kBlock;
    for (int64_t b = 0; b < nblocks; ++b) l.block_group.push_back(g);
    l.column_of.insert(l.column_of.end(), cols.begin(), cols.end());
    l.column_of.resize(l.block_group.size() * kBlock, -1);
  }
  l.identity = true;
  for (size_t p = 0; p < l.column_of.size() && l.identity; ++p)
    l.identity = l.column_of[p] == (static_cast<int64_t>(p) < C ? static_cast<int32_t>(p) : -1);
  return l;
}

/// The power of two that brings `top` into [2^14, 2^15) (1 for 0).
float global_scale_for(float top) {
  if (!(top > 0.0f)) return 1.0f;
  return std::ldexp(1.0f, std::ilogb(top) - 14);
}

}  // namespace

bool native_supports(const QuantSpec& spec, std::string* reason) {
  if (spec.group_dim == 0) {
    if (reason) *reason = kReasonGroupDim0;
    return false;
  }
  return true;
}

PackedWeight repack(const QuantizedWeight& w) {
  const QuantSpec& spec = w.spec;
  std::string why;
  QT_CHECK(native_supports(spec, &why), "native repack: unsupported quantization: ", why);
  const int64_t R = w.matrix_rows(), C = w.matrix_cols();
  const bool table = spec.dtype != DType::kInt;
  const bool wide = !table && spec.bits > 4;

  PackedWeight p;
  p.rows = R;
  p.cols = C;
  p.bits = spec.bits;
  p.format = table ? CodeFormat::kTable4 : wide ? CodeFormat::kS8 : CodeFormat::kU4;
  const int32_t base = wide ? 1 << (spec.bits - 1) : 0;  // subtracted from u to make c
  const bool asym = !table && spec.scheme == Scheme::kAsym;
  p.has_zero = asym && !spec.float_zero;
  p.has_min = asym && spec.float_zero;
  if (!table && !asym) p.code_offset = (1 << (spec.bits - 1)) - base;
  if (p.has_zero) p.code_offset = -base;
  if (table) {
    const std::vector<float>& t = dtype_table(spec.dtype);
    QT_ASSERT(t.size() <= p.table.size());
    std::copy(t.begin(), t.end(), p.table.begin());
  }

  const Layout layout = make_layout(w);
  p.blocks = static_cast<int64_t>(layout.block_group.size());
  if (!layout.identity) p.column_of = layout.column_of;

  // Parameters per (row, group); per-tensor has one row of them.
  const at::Tensor scale = w.scale.to(at::kFloat).contiguous();
  const int64_t G = scale.size(1);
  const bool one_row = scale.size(0) == 1 && R != 1;
  const float* s = scale.data_ptr<float>();
  at::Tensor zero;
  if (asym) zero = w.zero.contiguous();
  const auto param_index = [&](int64_t r, int64_t g) { return (one_row ? 0 : r) * G + g; };

  // m = scale * (base - zero) in fp32 before the fp16 rounding (float zero only).
  std::vector<float> mins;
  float top = 0.0f;
  for (int64_t i = 0; i < scale.numel(); ++i) top = std::max(top, std::fabs(s[i]));
  if (p.has_min) {
    const float* z = zero.data_ptr<float>();
    mins.resize(scale.numel());
    for (int64_t i = 0; i < scale.numel(); ++i) {
      mins[i] = s[i] * (static_cast<float>(base) - z[i]);
      top = std::max(top, std::fabs(mins[i]));
    }
  }
  p.global_scale = global_scale_for(top);
  const float inv_gs = 1.0f / p.global_scale;  // a power of two: exact

  p.d.resize(R * p.blocks);
  if (p.has_zero) p.zero.resize(R * p.blocks);
  if (p.has_min) p.m.resize(R * p.blocks);
  const int32_t zmax = (1 << spec.bits) - 1;  // with code_offset, keeps offsets int8 for kS8
  for (int64_t r = 0; r < R; ++r)
    for (int64_t b = 0; b < p.blocks; ++b) {
      const int64_t g = layout.block_group[b];
      const int64_t k = param_index(r, g);
      p.d[r * p.blocks + b] = fp16_from_float(s[k] * inv_gs);
      if (p.has_zero) {
        const int32_t z = zero.data_ptr<int32_t>()[k];
        QT_CHECK(z >= 0 && z <= zmax, "native repack: zero point of row ", r, " group ", g,
                 " must be in [0, ", zmax, "], got ", z);
        p.zero[r * p.blocks + b] = static_cast<uint8_t>(z);
      }
      if (p.has_min) p.m[r * p.blocks + b] = fp16_from_float(mins[k] * inv_gs);
    }

  const at::Tensor u = unpack_rows(w.packed, spec.bits, C).contiguous();
  const int32_t* up = u.data_ptr<int32_t>();
  const int64_t bpb = bytes_per_block(p.format);
  p.codes = AlignedBytes::zeros(R * p.blocks * bpb);
  for (int64_t r = 0; r < R; ++r)
    for (int64_t b = 0; b < p.blocks; ++b) {
      uint8_t* out = p.codes.data.get() + (r * p.blocks + b) * bpb;
      for (int j = 0; j < kBlock; ++j) {
        const int32_t col = layout.column_of[b * kBlock + j];
        if (col < 0) continue;  // padding keeps code 0
        const int32_t c = up[r * C + col] - base;
        if (wide)
          out[j] = static_cast<uint8_t>(static_cast<int8_t>(c));
        else
          out[j & 15] |= static_cast<uint8_t>(c << (j < 16 ? 0 : 4));
      }
    }
  return p;
}

QuantizedWeight unpack(const PackedWeight& p, const QuantizedWeight& meta) {
  const int64_t R = meta.matrix_rows(), C = meta.matrix_cols();
  QT_CHECK(p.rows == R && p.cols == C, "native unpack: packed weight is [", p.rows, ", ", p.cols,
           "], metadata expects [", R, ", ", C, "]");
  const int32_t base = p.format == CodeFormat::kS8 ? 1 << (meta.spec.bits - 1) : 0;
  at::Tensor u = at::zeros({R, C}, at::kInt);
  int32_t* up = u.data_ptr<int32_t>();
  std::vector<uint8_t> seen(C, 0);
  const int64_t bpb = bytes_per_block(p.format);
  for (int64_t b = 0; b < p.blocks; ++b)
    for (int j = 0; j < kBlock; ++j) {
      const int64_t pos = b * kBlock + j;
      const int64_t col = p.column_of.empty() ? (pos < C ? pos : -1) : p.column_of[pos];
      if (col < 0) continue;
      QT_ASSERT(col < C && !seen[col], "native unpack: column ", col,
                " read twice or out of range");
      seen[col] = 1;
      for (int64_t r = 0; r < R; ++r) {
        const uint8_t* block = p.codes.data.get() + (r * p.blocks + b) * bpb;
        const int32_t c = p.format == CodeFormat::kS8
                              ? static_cast<int8_t>(block[j])
                              : (j < 16 ? block[j] & 0x0F : block[j - 16] >> 4);
        up[r * C + col] = c + base;
      }
    }
  QT_ASSERT(std::all_of(seen.begin(), seen.end(), [](uint8_t v) { return v != 0; }),
            "native unpack: a column is never read");
  QuantizedWeight q = meta;
  q.packed = pack_rows(u, meta.spec.bits);
  return q;
}

}  // namespace qtune::native

// The IsaKernels table of each ISA: one entry per path, dispatching to the
// functions of isa_entries.h. Compiled at the baseline ISA: it only takes
// addresses, the ISA code runs inside the callees.
#include "backends/native/isa_entries.h"
#include "backends/native/woq_decode.h"
#include "common/error.h"

namespace qtune::native {

namespace {

using PrepareFn = void (*)(const PackedWeight&, const float*, int64_t, int64_t,
                           PreparedActivations*);
using RowsFn = void (*)(const PackedWeight&, const PreparedActivations&, const float*, float*,
                        int64_t, int64_t, int64_t);

using DecodeFn = void (*)(const PackedWeight&, int64_t, int64_t, float*);

template <PrepareFn kInt8Prepare, RowsFn kInt8Rows, RowsFn kFloatRows, DecodeFn kDecode>
struct Table {
  static void prepare(const PackedWeight& w, const float* x, int64_t m, int64_t ldx, Path path,
                      PreparedActivations* a) {
    QT_ASSERT(path_supports(path, w.format) && path != Path::kDequantized);
    if (path == Path::kInt8Activations)
      kInt8Prepare(w, x, m, ldx, a);
    else
      ref_prepare_float(w, x, m, ldx, a);
  }
  static void gemm_rows(const PackedWeight& w, const PreparedActivations& a, Path path,
                        const float* bias, float* y, int64_t ldy, int64_t r0, int64_t r1) {
    QT_ASSERT(path_supports(path, w.format) && path != Path::kDequantized);
    QT_ASSERT(0 <= r0 && r0 <= r1 && r1 <= w.rows);
    if (path == Path::kInt8Activations)
      kInt8Rows(w, a, bias, y, ldy, r0, r1);
    else
      kFloatRows(w, a, bias, y, ldy, r0, r1);
  }
  static void decode_rows(const PackedWeight& w, int64_t r0, int64_t r1, float* out) {
    QT_ASSERT(0 <= r0 && r0 <= r1 && r1 <= w.rows);
    kDecode(w, r0, r1, out);
  }
};

template <typename T>
IsaKernels make(Isa isa) {
  return IsaKernels{isa, &T::prepare, &T::gemm_rows, &T::decode_rows};
}

}  // namespace

const IsaKernels& ref_kernels() {
  static const IsaKernels k =
      make<Table<ref_prepare_int8, ref_gemm_rows_int8, ref_gemm_rows_float, decode_rows>>(
          Isa::kRef);
  return k;
}

const IsaKernels& avx2_kernels() {
  static const IsaKernels k = make<
      Table<int8_prepare_avx2, int8_gemm_rows_avx2, float_gemm_rows_avx2, float_decode_rows_avx2>>(
      Isa::kAvx2);
  return k;
}

const IsaKernels& avx512_kernels() {
  static const IsaKernels k =
      make<Table<int8_prepare_avx512, int8_gemm_rows_avx512, float_gemm_rows_avx512,
                 float_decode_rows_avx512>>(Isa::kAvx512);
  return k;
}

}  // namespace qtune::native

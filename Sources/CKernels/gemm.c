// A packed, register-blocked inner-product kernel for batches of queries (AVX-512).
//
// Rows are packed into panels of 16: panel[p * 16 + lane] = row[lane][p], so one 512-bit load
// holds component p of 16 rows. The micro-kernel keeps 8 queries × 32 rows of sums in 16
// registers and, per component, does 2 loads, 8 broadcasts and 16 FMAs — bound by FMA
// throughput, not memory, because a block of packed rows stays in L2 while every query of the
// batch passes over it. The scores never leave the registers unless they reach their query's current
// top-k threshold: each 16-lane block of sums is compared with it and only the rare survivors are
// written out, so there is no score matrix to store and read back.

#include "CKernels.h"
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define AVX512_ATTR __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")))
#endif

size_t sy_panel_floats(size_t n, size_t d) { return ((n + 15) / 16) * 16 * d; }

#if defined(__x86_64__)
/// Transposes a 16 × 16 block in registers: on return r[c] holds component c of the 16 input rows.
AVX512_ATTR static inline void transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 2]);
        __m512d c = _mm512_castps_pd(t[4 * i + 1]), e = _mm512_castps_pd(t[4 * i + 3]);
        r[4 * i + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
        r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
        r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(c, e));
        r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(c, e));
    }
    // r[4i + j] now holds, in its 128-bit lane L, component 4L + j of rows 4i ..< 4i + 4.
    for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 4; j++) {
            t[8 * i + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + 4 + j], 0x88);
            t[8 * i + 4 + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + 4 + j], 0xdd);
        }
    }
    for (int j = 0; j < 8; j++) {
        r[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
        r[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xdd);
    }
}

/// One full panel (16 rows), 16 components at a time through `transpose16`.
AVX512_ATTR static size_t pack_full_panel(const float *src, size_t d, float *dst) {
    size_t p = 0;
    for (; p + 16 <= d; p += 16) {
        __m512 r[16];
        for (int lane = 0; lane < 16; lane++) r[lane] = _mm512_loadu_ps(src + (size_t)lane * d + p);
        transpose16(r);
        for (int c = 0; c < 16; c++) _mm512_store_ps(dst + (p + (size_t)c) * 16, r[c]);
    }
    return p;
}
#endif

void sy_pack_panels(const float *rows, size_t n, size_t d, float *panels) {
    size_t np = (n + 15) / 16;
    for (size_t b = 0; b < np; b++) {
        float *dst = panels + b * 16 * d;
        const float *src = rows + b * 16 * d;
        size_t lanes = (n - b * 16) < 16 ? (n - b * 16) : 16;
        size_t done = 0;
#if defined(__x86_64__)
        if (lanes == 16 && sy_kernel_level() == SY_KERNEL_AVX512) done = pack_full_panel(src, d, dst);
#endif
        if (lanes < 16) memset(dst, 0, 16 * d * sizeof(float));
        for (size_t lane = 0; lane < lanes; lane++) {
            for (size_t p = done; p < d; p++) dst[p * 16 + lane] = src[lane * d + p];
        }
    }
}

int sy_has_packed_gemm(void) {
#if defined(__x86_64__)
    return sy_kernel_level() == SY_KERNEL_AVX512;
#else
    return 0;
#endif
}

#if defined(__x86_64__)
/// Appends the lanes of `c` (scores of rows `row0 ..< row0 + 16` for query `qi`) that reach `thr`.
/// For L2 the score becomes 2·dot − ‖row‖² first. `valid` masks off the zero rows padding the last panel.
AVX512_ATTR static inline size_t emit(__m512 c, int qi, size_t row0, __m512 thr, __mmask16 valid,
                                      const float *norms, sy_candidate_t *out) {
    if (norms) c = _mm512_fmsub_ps(_mm512_set1_ps(2.0f), c, _mm512_maskz_loadu_ps(valid, norms + row0));
    __mmask16 m = _mm512_mask_cmp_ps_mask(valid, c, thr, _CMP_GE_OQ);
    if (!m) return 0;
    float s[16];
    _mm512_storeu_ps(s, c);
    size_t n = 0;
    while (m) {
        int lane = __builtin_ctz(m);
        m &= m - 1;
        out[n].query = qi;
        out[n].row = (int32_t)(row0 + (size_t)lane);
        out[n].score = s[lane];
        n++;
    }
    return n;
}

static inline __mmask16 lanes_below(size_t nrows, size_t row0) {
    if (row0 >= nrows) return 0;
    size_t left = nrows - row0;
    return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
}

/// 8 queries × 32 rows (two panels): 16 accumulators, per component 2 loads, 8 broadcasts, 16 FMAs.
AVX512_ATTR static size_t kernel_8x32(const float *q, size_t d, const float *pa, const float *pb, size_t row0,
                                      size_t nrows, const float *norms, const float *thr, sy_candidate_t *out) {
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    __m512 c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
    const float *q0 = q, *q1 = q + d, *q2 = q + 2 * d, *q3 = q + 3 * d;
    const float *q4 = q + 4 * d, *q5 = q + 5 * d, *q6 = q + 6 * d, *q7 = q + 7 * d;
    for (size_t p = 0; p < d; p++) {
        __m512 a = _mm512_load_ps(pa + p * 16);
        __m512 b = _mm512_load_ps(pb + p * 16);
        __m512 x;
        x = _mm512_set1_ps(q0[p]); c00 = _mm512_fmadd_ps(x, a, c00); c01 = _mm512_fmadd_ps(x, b, c01);
        x = _mm512_set1_ps(q1[p]); c10 = _mm512_fmadd_ps(x, a, c10); c11 = _mm512_fmadd_ps(x, b, c11);
        x = _mm512_set1_ps(q2[p]); c20 = _mm512_fmadd_ps(x, a, c20); c21 = _mm512_fmadd_ps(x, b, c21);
        x = _mm512_set1_ps(q3[p]); c30 = _mm512_fmadd_ps(x, a, c30); c31 = _mm512_fmadd_ps(x, b, c31);
        x = _mm512_set1_ps(q4[p]); c40 = _mm512_fmadd_ps(x, a, c40); c41 = _mm512_fmadd_ps(x, b, c41);
        x = _mm512_set1_ps(q5[p]); c50 = _mm512_fmadd_ps(x, a, c50); c51 = _mm512_fmadd_ps(x, b, c51);
        x = _mm512_set1_ps(q6[p]); c60 = _mm512_fmadd_ps(x, a, c60); c61 = _mm512_fmadd_ps(x, b, c61);
        x = _mm512_set1_ps(q7[p]); c70 = _mm512_fmadd_ps(x, a, c70); c71 = _mm512_fmadd_ps(x, b, c71);
    }
    __mmask16 va = lanes_below(nrows, row0), vb = lanes_below(nrows, row0 + 16);
    size_t n = 0;
    n += emit(c00, 0, row0, _mm512_set1_ps(thr[0]), va, norms, out + n);
    n += emit(c01, 0, row0 + 16, _mm512_set1_ps(thr[0]), vb, norms, out + n);
    n += emit(c10, 1, row0, _mm512_set1_ps(thr[1]), va, norms, out + n);
    n += emit(c11, 1, row0 + 16, _mm512_set1_ps(thr[1]), vb, norms, out + n);
    n += emit(c20, 2, row0, _mm512_set1_ps(thr[2]), va, norms, out + n);
    n += emit(c21, 2, row0 + 16, _mm512_set1_ps(thr[2]), vb, norms, out + n);
    n += emit(c30, 3, row0, _mm512_set1_ps(thr[3]), va, norms, out + n);
    n += emit(c31, 3, row0 + 16, _mm512_set1_ps(thr[3]), vb, norms, out + n);
    n += emit(c40, 4, row0, _mm512_set1_ps(thr[4]), va, norms, out + n);
    n += emit(c41, 4, row0 + 16, _mm512_set1_ps(thr[4]), vb, norms, out + n);
    n += emit(c50, 5, row0, _mm512_set1_ps(thr[5]), va, norms, out + n);
    n += emit(c51, 5, row0 + 16, _mm512_set1_ps(thr[5]), vb, norms, out + n);
    n += emit(c60, 6, row0, _mm512_set1_ps(thr[6]), va, norms, out + n);
    n += emit(c61, 6, row0 + 16, _mm512_set1_ps(thr[6]), vb, norms, out + n);
    n += emit(c70, 7, row0, _mm512_set1_ps(thr[7]), va, norms, out + n);
    n += emit(c71, 7, row0 + 16, _mm512_set1_ps(thr[7]), vb, norms, out + n);
    return n;
}

/// 8 queries × 16 rows (the last, odd panel).
AVX512_ATTR static size_t kernel_8x16(const float *q, size_t d, const float *pa, size_t row0, size_t nrows,
                                      const float *norms, const float *thr, sy_candidate_t *out) {
    __m512 c[8];
    for (int i = 0; i < 8; i++) c[i] = _mm512_setzero_ps();
    for (size_t p = 0; p < d; p++) {
        __m512 a = _mm512_load_ps(pa + p * 16);
        for (int i = 0; i < 8; i++) c[i] = _mm512_fmadd_ps(_mm512_set1_ps(q[(size_t)i * d + p]), a, c[i]);
    }
    __mmask16 va = lanes_below(nrows, row0);
    size_t n = 0;
    for (int i = 0; i < 8; i++) n += emit(c[i], i, row0, _mm512_set1_ps(thr[i]), va, norms, out + n);
    return n;
}
#endif

size_t sy_packed_scan_8(const float *q, size_t d, const float *panels, size_t nrows, const float *norms,
                        const float *thresholds, sy_candidate_t *out) {
#if defined(__x86_64__)
    size_t npanels = (nrows + 15) / 16, b = 0, n = 0;
    for (; b + 2 <= npanels; b += 2)
        n += kernel_8x32(q, d, panels + b * 16 * d, panels + (b + 1) * 16 * d, b * 16, nrows, norms, thresholds, out + n);
    if (b < npanels) n += kernel_8x16(q, d, panels + b * 16 * d, b * 16, nrows, norms, thresholds, out + n);
    return n;
#else
    (void)q; (void)d; (void)panels; (void)nrows; (void)norms; (void)thresholds; (void)out;
    return 0;
#endif
}

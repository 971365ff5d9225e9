// A packed, register-blocked inner-product kernel for batches of queries (AVX-512).
//
// Rows are packed into panels of 16: panel[p * 16 + lane] = row[lane][p], so one 512-bit load
// holds component p of 16 rows. The micro-kernel keeps 8 queries × 32 rows of sums in 16
// registers and, per component, does 2 loads, 8 broadcasts and 16 FMAs — bound by FMA
// throughput, not memory, because a block of packed rows stays in L2 while every query of the
// batch passes over it.

#include "CKernels.h"
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define AVX512_ATTR __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")))
#endif

size_t sy_panel_floats(size_t n, size_t d) { return ((n + 15) / 16) * 16 * d; }

void sy_pack_panels(const float *rows, size_t n, size_t d, float *panels) {
    size_t np = (n + 15) / 16;
    for (size_t b = 0; b < np; b++) {
        float *dst = panels + b * 16 * d;
        size_t lanes = (n - b * 16) < 16 ? (n - b * 16) : 16;
        if (lanes < 16) memset(dst, 0, 16 * d * sizeof(float));
        for (size_t lane = 0; lane < lanes; lane++) {
            const float *src = rows + (b * 16 + lane) * d;
            for (size_t p = 0; p < d; p++) dst[p * 16 + lane] = src[p];
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
AVX512_ATTR static void kernel_8x32(const float *q, size_t d, const float *pa, const float *pb, float *out, size_t ldo) {
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
    _mm512_storeu_ps(out + 0 * ldo, c00); _mm512_storeu_ps(out + 0 * ldo + 16, c01);
    _mm512_storeu_ps(out + 1 * ldo, c10); _mm512_storeu_ps(out + 1 * ldo + 16, c11);
    _mm512_storeu_ps(out + 2 * ldo, c20); _mm512_storeu_ps(out + 2 * ldo + 16, c21);
    _mm512_storeu_ps(out + 3 * ldo, c30); _mm512_storeu_ps(out + 3 * ldo + 16, c31);
    _mm512_storeu_ps(out + 4 * ldo, c40); _mm512_storeu_ps(out + 4 * ldo + 16, c41);
    _mm512_storeu_ps(out + 5 * ldo, c50); _mm512_storeu_ps(out + 5 * ldo + 16, c51);
    _mm512_storeu_ps(out + 6 * ldo, c60); _mm512_storeu_ps(out + 6 * ldo + 16, c61);
    _mm512_storeu_ps(out + 7 * ldo, c70); _mm512_storeu_ps(out + 7 * ldo + 16, c71);
}

AVX512_ATTR static void kernel_8x16(const float *q, size_t d, const float *pa, float *out, size_t ldo) {
    __m512 c0 = _mm512_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
    for (size_t p = 0; p < d; p++) {
        __m512 a = _mm512_load_ps(pa + p * 16);
        c0 = _mm512_fmadd_ps(_mm512_set1_ps(q[p]), a, c0);
        c1 = _mm512_fmadd_ps(_mm512_set1_ps(q[d + p]), a, c1);
        c2 = _mm512_fmadd_ps(_mm512_set1_ps(q[2 * d + p]), a, c2);
        c3 = _mm512_fmadd_ps(_mm512_set1_ps(q[3 * d + p]), a, c3);
        c4 = _mm512_fmadd_ps(_mm512_set1_ps(q[4 * d + p]), a, c4);
        c5 = _mm512_fmadd_ps(_mm512_set1_ps(q[5 * d + p]), a, c5);
        c6 = _mm512_fmadd_ps(_mm512_set1_ps(q[6 * d + p]), a, c6);
        c7 = _mm512_fmadd_ps(_mm512_set1_ps(q[7 * d + p]), a, c7);
    }
    _mm512_storeu_ps(out, c0); _mm512_storeu_ps(out + ldo, c1); _mm512_storeu_ps(out + 2 * ldo, c2);
    _mm512_storeu_ps(out + 3 * ldo, c3); _mm512_storeu_ps(out + 4 * ldo, c4); _mm512_storeu_ps(out + 5 * ldo, c5);
    _mm512_storeu_ps(out + 6 * ldo, c6); _mm512_storeu_ps(out + 7 * ldo, c7);
}
#endif

void sy_gemm_packed_8(const float *q, size_t d, const float *panels, size_t npanels, float *out, size_t ldo) {
#if defined(__x86_64__)
    size_t b = 0;
    for (; b + 2 <= npanels; b += 2)
        kernel_8x32(q, d, panels + b * 16 * d, panels + (b + 1) * 16 * d, out + b * 16, ldo);
    if (b < npanels) kernel_8x16(q, d, panels + b * 16 * d, out + b * 16, ldo);
#else
    (void)q; (void)d; (void)panels; (void)npanels; (void)out; (void)ldo;
#endif
}

// SIMD distance kernels with run-time dispatch.
//
// Each level computes one row with a fixed sequence of operations, so a row's value does not depend
// on where it sits in memory or which entry point computed it. Values may differ between levels in
// the last bits (different summation order); one process uses one level throughout.

#include "CKernels.h"
#include <math.h>
#include <stdatomic.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

// MARK: - Generic kernels (any CPU)

static inline float generic_dot(const float *a, const float *b, size_t d) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= d; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < d; i++) s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

static inline float generic_l2sq(const float *a, const float *b, size_t d) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= d; i += 4) {
        float t0 = a[i] - b[i], t1 = a[i + 1] - b[i + 1], t2 = a[i + 2] - b[i + 2], t3 = a[i + 3] - b[i + 3];
        s0 += t0 * t0;
        s1 += t1 * t1;
        s2 += t2 * t2;
        s3 += t3 * t3;
    }
    for (; i < d; i++) {
        float t = a[i] - b[i];
        s0 += t * t;
    }
    return (s0 + s1) + (s2 + s3);
}

static inline float generic_l1(const float *a, const float *b, size_t d) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= d; i += 4) {
        s0 += fabsf(a[i] - b[i]);
        s1 += fabsf(a[i + 1] - b[i + 1]);
        s2 += fabsf(a[i + 2] - b[i + 2]);
        s3 += fabsf(a[i + 3] - b[i + 3]);
    }
    for (; i < d; i++) s0 += fabsf(a[i] - b[i]);
    return (s0 + s1) + (s2 + s3);
}

static float generic_one(int m, const float *a, const float *b, size_t d) {
    switch (m) {
    case SY_MEASURE_DOT: return generic_dot(a, b, d);
    case SY_MEASURE_L2SQ: return generic_l2sq(a, b, d);
    default: return generic_l1(a, b, d);
    }
}

static void generic_rows(int m, const float *rows, size_t n, size_t d, const float *q, float *out) {
    for (size_t i = 0; i < n; i++) out[i] = generic_one(m, rows + i * d, q, d);
}

static void generic_gather(int m, const float *rows, size_t d, const int32_t *idx, size_t k, const float *q,
                           float *out) {
    for (size_t j = 0; j < k; j++) out[j] = generic_one(m, rows + (size_t)idx[j] * d, q, d);
}

#if defined(__x86_64__)

// MARK: - AVX2 + FMA

#define AVX2_ATTR __attribute__((target("avx2,fma")))

AVX2_ATTR static inline float avx2_hsum(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v);
    __m128 hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    __m128 sh = _mm_movehdup_ps(lo);
    __m128 s = _mm_add_ps(lo, sh);
    sh = _mm_movehl_ps(sh, s);
    s = _mm_add_ss(s, sh);
    return _mm_cvtss_f32(s);
}

AVX2_ATTR static inline float avx2_one(int m, const float *a, const float *b, size_t d) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    size_t i = 0;
    if (m == SY_MEASURE_DOT) {
        for (; i + 32 <= d; i += 32) {
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
            acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
            acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), acc2);
            acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), acc3);
        }
        for (; i + 8 <= d; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    } else if (m == SY_MEASURE_L2SQ) {
        for (; i + 32 <= d; i += 32) {
            __m256 t0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
            __m256 t1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
            __m256 t2 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));
            __m256 t3 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));
            acc0 = _mm256_fmadd_ps(t0, t0, acc0);
            acc1 = _mm256_fmadd_ps(t1, t1, acc1);
            acc2 = _mm256_fmadd_ps(t2, t2, acc2);
            acc3 = _mm256_fmadd_ps(t3, t3, acc3);
        }
        for (; i + 8 <= d; i += 8) {
            __m256 t = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
            acc0 = _mm256_fmadd_ps(t, t, acc0);
        }
    } else {
        for (; i + 32 <= d; i += 32) {
            acc0 = _mm256_add_ps(acc0, _mm256_and_ps(absmask, _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i))));
            acc1 = _mm256_add_ps(acc1, _mm256_and_ps(absmask, _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8))));
            acc2 = _mm256_add_ps(acc2, _mm256_and_ps(absmask, _mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16))));
            acc3 = _mm256_add_ps(acc3, _mm256_and_ps(absmask, _mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24))));
        }
        for (; i + 8 <= d; i += 8)
            acc0 = _mm256_add_ps(acc0, _mm256_and_ps(absmask, _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i))));
    }
    float s = avx2_hsum(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
    float tail = 0;
    for (; i < d; i++) {
        float t = (m == SY_MEASURE_DOT) ? a[i] * b[i] : (m == SY_MEASURE_L2SQ) ? (a[i] - b[i]) * (a[i] - b[i]) : fabsf(a[i] - b[i]);
        tail += t;
    }
    return s + tail;
}

AVX2_ATTR static void avx2_rows(int m, const float *rows, size_t n, size_t d, const float *q, float *out) {
    for (size_t i = 0; i < n; i++) out[i] = avx2_one(m, rows + i * d, q, d);
}

AVX2_ATTR static void avx2_gather(int m, const float *rows, size_t d, const int32_t *idx, size_t k, const float *q,
                                  float *out) {
    for (size_t j = 0; j < k; j++) out[j] = avx2_one(m, rows + (size_t)idx[j] * d, q, d);
}

// MARK: - AVX-512

#define AVX512_ATTR __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")))

// One function per measure (no branch inside the hot loop): 4 independent accumulators over
// 64-float steps, then 16-float steps, then a masked tail.
#define AVX512_KERNEL(NAME, TERM)                                                                   \
    AVX512_ATTR static inline float NAME(const float *a, const float *b, size_t d) {                \
        __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();                              \
        __m512 acc2 = _mm512_setzero_ps(), acc3 = _mm512_setzero_ps();                              \
        size_t i = 0;                                                                               \
        for (; i + 64 <= d; i += 64) {                                                              \
            acc0 = TERM(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);                      \
            acc1 = TERM(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);            \
            acc2 = TERM(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), acc2);            \
            acc3 = TERM(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), acc3);            \
        }                                                                                           \
        for (; i + 16 <= d; i += 16) acc0 = TERM(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0); \
        if (i < d) {                                                                                \
            __mmask16 mask = (__mmask16)((1u << (d - i)) - 1u);                                     \
            acc1 = TERM(_mm512_maskz_loadu_ps(mask, a + i), _mm512_maskz_loadu_ps(mask, b + i), acc1); \
        }                                                                                           \
        return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3))); \
    }

AVX512_ATTR static inline __m512 avx512_term_dot(__m512 x, __m512 y, __m512 acc) { return _mm512_fmadd_ps(x, y, acc); }
AVX512_ATTR static inline __m512 avx512_term_l2(__m512 x, __m512 y, __m512 acc) {
    __m512 t = _mm512_sub_ps(x, y);
    return _mm512_fmadd_ps(t, t, acc);
}
AVX512_ATTR static inline __m512 avx512_term_l1(__m512 x, __m512 y, __m512 acc) {
    return _mm512_add_ps(acc, _mm512_abs_ps(_mm512_sub_ps(x, y)));
}
AVX512_KERNEL(avx512_dot, avx512_term_dot)
AVX512_KERNEL(avx512_l2, avx512_term_l2)
AVX512_KERNEL(avx512_l1, avx512_term_l1)

AVX512_ATTR static inline float avx512_one(int m, const float *a, const float *b, size_t d) {
    switch (m) {
    case SY_MEASURE_DOT: return avx512_dot(a, b, d);
    case SY_MEASURE_L2SQ: return avx512_l2(a, b, d);
    default: return avx512_l1(a, b, d);
    }
}

#define AVX512_ROWS(NAME, ONE)                                                                      \
    AVX512_ATTR static void NAME(const float *rows, size_t n, size_t d, const float *q, float *out) { \
        for (size_t i = 0; i < n; i++) {                                                            \
            const char *ahead = (const char *)(rows + (i + 4) * d);                                 \
            for (size_t b = 0; b < d * 4; b += 64) _mm_prefetch(ahead + b, _MM_HINT_T0);            \
            out[i] = ONE(rows + i * d, q, d);                                                       \
        }                                                                                           \
    }                                                                                               \
    AVX512_ATTR static void NAME##_gather(const float *rows, size_t d, const int32_t *idx, size_t k, \
                                          const float *q, float *out) {                             \
        for (size_t j = 0; j < k; j++) out[j] = ONE(rows + (size_t)idx[j] * d, q, d);               \
    }
AVX512_ROWS(avx512_rows_dot, avx512_dot)
AVX512_ROWS(avx512_rows_l2, avx512_l2)
AVX512_ROWS(avx512_rows_l1, avx512_l1)

static void avx512_rows(int m, const float *rows, size_t n, size_t d, const float *q, float *out) {
    switch (m) {
    case SY_MEASURE_DOT: avx512_rows_dot(rows, n, d, q, out); return;
    case SY_MEASURE_L2SQ: avx512_rows_l2(rows, n, d, q, out); return;
    default: avx512_rows_l1(rows, n, d, q, out); return;
    }
}

static void avx512_gather(int m, const float *rows, size_t d, const int32_t *idx, size_t k, const float *q,
                          float *out) {
    switch (m) {
    case SY_MEASURE_DOT: avx512_rows_dot_gather(rows, d, idx, k, q, out); return;
    case SY_MEASURE_L2SQ: avx512_rows_l2_gather(rows, d, idx, k, q, out); return;
    default: avx512_rows_l1_gather(rows, d, idx, k, q, out); return;
    }
}

// MARK: - Detection

static int detect_level(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return SY_KERNEL_GENERIC;
    int has_osxsave = (ecx >> 27) & 1, has_avx = (ecx >> 28) & 1, has_fma = (ecx >> 12) & 1;
    if (!has_osxsave || !has_avx) return SY_KERNEL_GENERIC;
    unsigned int xcr0_lo, xcr0_hi;
    __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    int os_avx = (xcr0_lo & 0x6) == 0x6;
    int os_avx512 = (xcr0_lo & 0xe6) == 0xe6;
    if (!os_avx) return SY_KERNEL_GENERIC;
    if (__get_cpuid_max(0, NULL) < 7) return SY_KERNEL_GENERIC;
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    int has_avx2 = (ebx >> 5) & 1;
    int has_avx512f = (ebx >> 16) & 1, has_avx512dq = (ebx >> 17) & 1;
    int has_avx512bw = (ebx >> 30) & 1, has_avx512vl = (ebx >> 31) & 1;
    if (os_avx512 && has_avx512f && has_avx512dq && has_avx512bw && has_avx512vl && has_fma) return SY_KERNEL_AVX512;
    if (has_avx2 && has_fma) return SY_KERNEL_AVX2;
    return SY_KERNEL_GENERIC;
}
#else
static int detect_level(void) { return SY_KERNEL_GENERIC; }
#endif

static _Atomic int g_detected = -1;
static _Atomic int g_level = -1;

int sy_detected_kernel_level(void) {
    int v = atomic_load_explicit(&g_detected, memory_order_relaxed);
    if (v < 0) {
        v = detect_level();
        atomic_store_explicit(&g_detected, v, memory_order_relaxed);
    }
    return v;
}

int sy_kernel_level(void) {
    int v = atomic_load_explicit(&g_level, memory_order_relaxed);
    if (v < 0) {
        v = sy_detected_kernel_level();
        atomic_store_explicit(&g_level, v, memory_order_relaxed);
    }
    return v;
}

int sy_set_kernel_level(int level) {
    int best = sy_detected_kernel_level();
    if (level < 0) level = 0;
    if (level > best) level = best;
    atomic_store_explicit(&g_level, level, memory_order_relaxed);
    return level;
}

const char *sy_kernel_level_name(int level) {
    switch (level) {
    case SY_KERNEL_AVX512: return "avx512";
    case SY_KERNEL_AVX2: return "avx2";
    default: return "generic";
    }
}

void sy_score_rows(int measure, const float *rows, size_t n, size_t d, const float *q, float *out) {
    switch (sy_kernel_level()) {
#if defined(__x86_64__)
    case SY_KERNEL_AVX512: avx512_rows(measure, rows, n, d, q, out); return;
    case SY_KERNEL_AVX2: avx2_rows(measure, rows, n, d, q, out); return;
#endif
    default: generic_rows(measure, rows, n, d, q, out); return;
    }
}

void sy_score_gather(int measure, const float *rows, size_t d, const int32_t *idx, size_t m, const float *q,
                     float *out) {
    switch (sy_kernel_level()) {
#if defined(__x86_64__)
    case SY_KERNEL_AVX512: avx512_gather(measure, rows, d, idx, m, q, out); return;
    case SY_KERNEL_AVX2: avx2_gather(measure, rows, d, idx, m, q, out); return;
#endif
    default: generic_gather(measure, rows, d, idx, m, q, out); return;
    }
}

float sy_score_one(int measure, const float *a, const float *b, size_t d) {
    switch (sy_kernel_level()) {
#if defined(__x86_64__)
    case SY_KERNEL_AVX512: return avx512_one(measure, a, b, d);
    case SY_KERNEL_AVX2: return avx2_one(measure, a, b, d);
#endif
    default: return generic_one(measure, a, b, d);
    }
}

// MARK: - Double-precision measures (the final ranking)
//
// Eight partial sums, lane j taking components j, j + 8, j + 16, …, combined in one fixed order. Each term is
// computed and added as its own operation (no fused multiply-add: contraction is off in these functions), so
// every path adds the same doubles in the same order and the result does not depend on the kernel level. (One
// running sum, as before, was a chain of dependent additions: about 4 cycles per component.)

static inline double f64_term(int measure, double x, double y) {
#pragma STDC FP_CONTRACT OFF
    if (measure == SY_MEASURE_DOT) {
        double p = x * y;
        return p;
    }
    double t = x - y;
    if (measure == SY_MEASURE_L2SQ) {
        double p = t * t;
        return p;
    }
    return fabs(t);
}

static inline double f64_combine(const double s[8]) {
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

static double generic_one_f64(int measure, const float *a, const float *b, size_t d) {
#pragma STDC FP_CONTRACT OFF
    double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (size_t i = 0; i < d; i++) s[i % 8] += f64_term(measure, (double)a[i], (double)b[i]);
    return f64_combine(s);
}

#if defined(__x86_64__)
/// The terms of 8 components as two vectors of 4 doubles (lanes 0–3 and 4–7).
AVX2_ATTR static inline void avx2_terms_f64(int measure, const float *a, const float *b, __m256d *lo, __m256d *hi) {
    __m256 x = _mm256_loadu_ps(a), y = _mm256_loadu_ps(b);
    __m256d x0 = _mm256_cvtps_pd(_mm256_castps256_ps128(x)), x1 = _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1));
    __m256d y0 = _mm256_cvtps_pd(_mm256_castps256_ps128(y)), y1 = _mm256_cvtps_pd(_mm256_extractf128_ps(y, 1));
    if (measure == SY_MEASURE_DOT) {
        *lo = _mm256_mul_pd(x0, y0);
        *hi = _mm256_mul_pd(x1, y1);
        return;
    }
    __m256d t0 = _mm256_sub_pd(x0, y0), t1 = _mm256_sub_pd(x1, y1);
    if (measure == SY_MEASURE_L2SQ) {
        *lo = _mm256_mul_pd(t0, t0);
        *hi = _mm256_mul_pd(t1, t1);
        return;
    }
    const __m256d sign = _mm256_set1_pd(-0.0);
    *lo = _mm256_andnot_pd(sign, t0);
    *hi = _mm256_andnot_pd(sign, t1);
}

AVX2_ATTR static double avx2_one_f64(int measure, const float *a, const float *b, size_t d) {
#pragma STDC FP_CONTRACT OFF
    __m256d s0 = _mm256_setzero_pd(), s1 = s0;
    size_t i = 0;
    for (; i + 8 <= d; i += 8) {
        __m256d lo, hi;
        avx2_terms_f64(measure, a + i, b + i, &lo, &hi);
        s0 = _mm256_add_pd(s0, lo);
        s1 = _mm256_add_pd(s1, hi);
    }
    double s[8];
    _mm256_storeu_pd(s, s0);
    _mm256_storeu_pd(s + 4, s1);
    for (; i < d; i++) s[i % 8] += f64_term(measure, (double)a[i], (double)b[i]);
    return f64_combine(s);
}
#endif

double sy_score_one_f64(int measure, const float *a, const float *b, size_t d) {
#if defined(__x86_64__)
    if (sy_kernel_level() >= SY_KERNEL_AVX2) return avx2_one_f64(measure, a, b, d);
#endif
    return generic_one_f64(measure, a, b, d);
}

/// Asks for row `row`'s cache lines ahead of use (a candidate's row is rarely in cache: it was chosen from the
/// whole matrix).
static inline void prefetch_row(const float *rows, size_t d, int32_t row) {
    const char *p = (const char *)(rows + (size_t)row * d);
    size_t bytes = d * sizeof(float);
    for (size_t off = 0; off < bytes; off += 64) __builtin_prefetch(p + off, 0, 0);
    // A row that does not start on a cache line ends in one the loop's steps may skip.
    if (bytes > 0) __builtin_prefetch(p + bytes - 1, 0, 0);
}

void sy_score_gather_f64(int measure, const float *rows, size_t d, const int32_t *idx, size_t m, const float *q,
                         double *out) {
    for (size_t j = 0; j < m && j < 2; j++) prefetch_row(rows, d, idx[j]);
    for (size_t j = 0; j < m; j++) {
        if (j + 2 < m) prefetch_row(rows, d, idx[j + 2]);
        out[j] = sy_score_one_f64(measure, rows + (size_t)idx[j] * d, q, d);
    }
}

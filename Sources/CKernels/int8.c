// Int8 scalar-quantization kernels: rows stored as signed codes s (−127…127) in 16-row panels, queries as
// unsigned codes u = t + 128·M (0…255 for byte codes, M = 1; 1…63 for the 6-bit codes the approximate search
// takes off VNNI, M = 1/4, u = t + 32, which AVX2 multiplies with `vpmaddubsw`), and every path computes the
// exact integer Σ u·s of each row, so
// the three paths (AVX-512 VNNI, AVX2, generic) agree bit for bit. The caller turns it into a ranking key
// with one multiply-add per row: key = a · Σ u·s + bias[row] (see QuantizedRows.swift). The exact screen's
// queries may have finer, 16-bit codes (`sy_q16_*`, u = t + 128·M for a fineness M): the AVX2 kernel widens
// the row codes to 16 bits anyway, so they cost nothing there.
//
// Panel layout: panel b holds rows 16b … 16b+15; for component group g (components 4g … 4g+3) its 64
// bytes are the 4 codes of each of the 16 rows in turn, so one 512-bit load feeds `vpdpbusd` with 16
// rows' partial dot products.

#include "CKernels.h"
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#define VNNI_ATTR __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,fma")))
#define AVX2_ATTR __attribute__((target("avx2,fma")))
#endif

static _Atomic int g_vnni = -1;

static int has_vnni(void) {
#if defined(__x86_64__)
    int cached = atomic_load_explicit(&g_vnni, memory_order_relaxed);
    if (cached < 0) {
        unsigned int eax, ebx, ecx, edx;
        cached = 0;
        if (__get_cpuid_max(0, NULL) >= 7) {
            __cpuid_count(7, 0, eax, ebx, ecx, edx);
            cached = (int)((ecx >> 11) & 1);
        }
        atomic_store_explicit(&g_vnni, cached, memory_order_relaxed);
    }
    return cached;
#else
    return 0;
#endif
}

int sy_q8_path(void) {
    int level = sy_kernel_level();
    if (level == SY_KERNEL_AVX512 && has_vnni()) return SY_Q8_VNNI;
    if (level >= SY_KERNEL_AVX2) return SY_Q8_AVX2;
    return SY_Q8_GENERIC;
}

const char *sy_q8_path_name(int path) {
    switch (path) {
    case SY_Q8_VNNI: return "avx512-vnni";
    case SY_Q8_AVX2: return "avx2";
    default: return "generic";
    }
}

size_t sy_q8_panel_bytes(size_t n, size_t groups) { return ((n + 15) / 16) * 64 * groups; }

void sy_q8_put_row(int8_t *panels, size_t groups, size_t row, const int8_t *codes) {
    int8_t *p = panels + (row / 16) * 64 * groups + (row % 16) * 4;
    for (size_t g = 0; g < groups; g++) memcpy(p + g * 64, codes + g * 4, 4);
}

void sy_q8_get_row(const int8_t *panels, size_t groups, size_t row, int8_t *codes) {
    const int8_t *p = panels + (row / 16) * 64 * groups + (row % 16) * 4;
    for (size_t g = 0; g < groups; g++) memcpy(codes + g * 4, p + g * 64, 4);
}

// MARK: - One query

/// Byte codes (`u8`) or 16-bit codes (`u16`, when `u8` is NULL).
static void generic_scores(const int8_t *panels, size_t groups, size_t n, const uint8_t *u8, const uint16_t *u16, float a,
                           const float *bias, float *out) {
    for (size_t r = 0; r < n; r++) {
        const int8_t *p = panels + (r / 16) * 64 * groups + (r % 16) * 4;
        int32_t s = 0;
        for (size_t g = 0; g < groups; g++) {
            for (size_t j = 0; j < 4; j++) {
                int32_t u = u8 ? (int32_t)u8[g * 4 + j] : (int32_t)u16[g * 4 + j];
                s += u * (int32_t)p[g * 64 + j];
            }
        }
        out[r] = fmaf(a, (float)s, bias[r]);
    }
}

#if defined(__x86_64__)
/// Σ u·s of the 16 rows of one panel, as products of 16-bit lanes summed in pairs (exact: with 8-bit codes |u·s| ≤
/// 32,385; with 16-bit codes up to 32,767 · 127, and the caller keeps the row's sum within 32 bits).
AVX2_ATTR static void avx2_panel(const int8_t *panel, size_t groups, const int64_t *u16, int32_t *out16) {
    __m256i acc[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
    for (size_t g = 0; g < groups; g++) {
        __m256i q = _mm256_set1_epi64x(u16[g]);
        const int8_t *p = panel + g * 64;
        for (int c = 0; c < 4; c++) {
            __m256i r = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(p + c * 16)));
            acc[c] = _mm256_add_epi32(acc[c], _mm256_madd_epi16(r, q));
        }
    }
    // acc[c] holds, for rows 4c … 4c+3, two partial sums each.
    for (int c = 0; c < 4; c += 2) {
        __m256i h = _mm256_hadd_epi32(acc[c], acc[c + 1]);
        h = _mm256_permute4x64_epi64(h, 0xD8);
        _mm256_storeu_si256((__m256i *)(out16 + c * 4), h);
    }
}

/// Four query codes (each below 2¹⁵) as the 16-bit lanes of one 64-bit word, for `vpmaddwd`.
static inline int64_t lanes4(int64_t c0, int64_t c1, int64_t c2, int64_t c3) { return c0 | (c1 << 16) | (c2 << 32) | (c3 << 48); }

/// A query's byte codes as one word of 16-bit lanes per group.
static void widen_codes(const uint8_t *u, size_t groups, int64_t *u16) {
    for (size_t g = 0; g < groups; g++) u16[g] = lanes4(u[g * 4], u[g * 4 + 1], u[g * 4 + 2], u[g * 4 + 3]);
}

/// The same for 16-bit codes (0 … 32,767).
static void pack_codes16(const uint16_t *u, size_t groups, int64_t *u16) {
    for (size_t g = 0; g < groups; g++) u16[g] = lanes4(u[g * 4], u[g * 4 + 1], u[g * 4 + 2], u[g * 4 + 3]);
}

AVX2_ATTR static void avx2_scores(const int8_t *panels, size_t groups, size_t n, const int64_t *u16, float a,
                                  const float *bias, float *out) {
    int32_t s[16];
    for (size_t b = 0; b * 16 < n; b++) {
        avx2_panel(panels + b * 64 * groups, groups, u16, s);
        size_t rows = n - b * 16 < 16 ? n - b * 16 : 16;
        for (size_t l = 0; l < rows; l++) out[b * 16 + l] = fmaf(a, (float)s[l], bias[b * 16 + l]);
    }
}

/// Whether every code is below 64: four products of such a code and a row's (|s| ≤ 127) sum exactly in 16 bits
/// (4 · 63 · 127 = 32,004 < 2¹⁵), so two groups' `vpmaddubsw` results may be added before `vpmaddwd` widens them.
static int below_64(const uint8_t *u, size_t count) {
    uint8_t any = 0;
    for (size_t i = 0; i < count; i++) any |= u[i];
    return any < 64;
}

/// Σ u·s of the 16 rows of one panel for codes u below 64: `vpmaddubsw` multiplies 32 byte pairs and sums them in
/// pairs, groups g and g + 1 are added in 16 bits (exact, see `below_64`), and one `vpmaddwd` by 1 sums those into
/// each row's 32-bit lane: three multiplies per two groups and 8 rows, where widening each group (`avx2_panel`)
/// takes four.
AVX2_ATTR static inline void avx2_panel6(const int8_t *panel, size_t groups, const uint8_t *u, __m256i *lo, __m256i *hi) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i a0 = _mm256_setzero_si256(), a1 = a0;
    size_t g = 0;
    for (; g + 2 <= groups; g += 2) {
        int32_t w0, w1;
        memcpy(&w0, u + g * 4, 4);
        memcpy(&w1, u + g * 4 + 4, 4);
        __m256i q0 = _mm256_set1_epi32(w0), q1 = _mm256_set1_epi32(w1);
        const __m256i *p = (const __m256i *)(const void *)(panel + g * 64);
        __m256i s0 = _mm256_add_epi16(_mm256_maddubs_epi16(q0, _mm256_loadu_si256(p)),
                                      _mm256_maddubs_epi16(q1, _mm256_loadu_si256(p + 2)));
        __m256i s1 = _mm256_add_epi16(_mm256_maddubs_epi16(q0, _mm256_loadu_si256(p + 1)),
                                      _mm256_maddubs_epi16(q1, _mm256_loadu_si256(p + 3)));
        a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(s0, ones));
        a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(s1, ones));
    }
    if (g < groups) {
        int32_t w;
        memcpy(&w, u + g * 4, 4);
        __m256i q = _mm256_set1_epi32(w);
        const __m256i *p = (const __m256i *)(const void *)(panel + g * 64);
        a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_maddubs_epi16(q, _mm256_loadu_si256(p)), ones));
        a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(_mm256_maddubs_epi16(q, _mm256_loadu_si256(p + 1)), ones));
    }
    *lo = a0;
    *hi = a1;
}

AVX2_ATTR static void avx2_scores6(const int8_t *panels, size_t groups, size_t n, const uint8_t *u, float a,
                                   const float *bias, float *out) {
    int32_t s[16];
    for (size_t b = 0; b * 16 < n; b++) {
        __m256i lo, hi;
        avx2_panel6(panels + b * 64 * groups, groups, u, &lo, &hi);
        _mm256_storeu_si256((__m256i *)(void *)s, lo);
        _mm256_storeu_si256((__m256i *)(void *)(s + 8), hi);
        size_t rows = n - b * 16 < 16 ? n - b * 16 : 16;
        for (size_t l = 0; l < rows; l++) out[b * 16 + l] = fmaf(a, (float)s[l], bias[b * 16 + l]);
    }
}

VNNI_ATTR static void vnni_scores(const int8_t *panels, size_t groups, size_t n, const uint8_t *u, float a,
                                  const float *bias, float *out) {
    const int32_t *u32 = (const int32_t *)(const void *)u;
    size_t np = (n + 15) / 16;
    __m512 va = _mm512_set1_ps(a);
    // One panel at a time, read front to back, with four independent chains over its component groups. A
    // single query is bound by reading the panels from memory, and one sequential stream reads faster than
    // four panels at once (four streams 64·groups bytes apart): about 1.8× on 100,000 × 384 rows on a Zen 4
    // (docs/performance.md; the package-benchmark `search int8 single n=100000` times this path). The integer
    // sums are exact, so the order changes no result.
    for (size_t b = 0; b < np; b++) {
        const int8_t *p = panels + b * 64 * groups;
        __m512i c0 = _mm512_setzero_si512(), c1 = c0, c2 = c0, c3 = c0;
        size_t g = 0;
        for (; g + 4 <= groups; g += 4) {
            int32_t w[4];
            memcpy(w, u32 + g, 16);
            c0 = _mm512_dpbusd_epi32(c0, _mm512_set1_epi32(w[0]), _mm512_loadu_si512(p + g * 64));
            c1 = _mm512_dpbusd_epi32(c1, _mm512_set1_epi32(w[1]), _mm512_loadu_si512(p + (g + 1) * 64));
            c2 = _mm512_dpbusd_epi32(c2, _mm512_set1_epi32(w[2]), _mm512_loadu_si512(p + (g + 2) * 64));
            c3 = _mm512_dpbusd_epi32(c3, _mm512_set1_epi32(w[3]), _mm512_loadu_si512(p + (g + 3) * 64));
        }
        for (; g < groups; g++) {
            int32_t w;
            memcpy(&w, u32 + g, 4);
            c0 = _mm512_dpbusd_epi32(c0, _mm512_set1_epi32(w), _mm512_loadu_si512(p + g * 64));
        }
        __m512i c = _mm512_add_epi32(_mm512_add_epi32(c0, c1), _mm512_add_epi32(c2, c3));
        size_t row0 = b * 16, rows = n - row0 < 16 ? n - row0 : 16;
        __mmask16 m = rows == 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << rows) - 1u);
        __m512 key = _mm512_fmadd_ps(va, _mm512_cvtepi32_ps(c), _mm512_maskz_loadu_ps(m, bias + row0));
        _mm512_mask_storeu_ps(out + row0, m, key);
    }
}
#endif

void sy_q8_scores(int path, const int8_t *panels, size_t groups, size_t n, const uint8_t *u, float a,
                  const float *bias, float *out) {
    switch (path) {
#if defined(__x86_64__)
    case SY_Q8_VNNI: vnni_scores(panels, groups, n, u, a, bias, out); return;
    case SY_Q8_AVX2: {
        if (below_64(u, 4 * groups)) {
            avx2_scores6(panels, groups, n, u, a, bias, out);
            return;
        }
        int64_t u16[groups > 0 ? groups : 1];
        widen_codes(u, groups, u16);
        avx2_scores(panels, groups, n, u16, a, bias, out);
        return;
    }
#endif
    default: generic_scores(panels, groups, n, u, NULL, a, bias, out); return;
    }
}

void sy_q16_scores(int path, const int8_t *panels, size_t groups, size_t n, const uint16_t *u, float a,
                   const float *bias, float *out) {
#if defined(__x86_64__)
    if (path != SY_Q8_GENERIC && groups <= 4096) {
        int64_t u16[groups > 0 ? groups : 1];
        pack_codes16(u, groups, u16);
        avx2_scores(panels, groups, n, u16, a, bias, out);
        return;
    }
#endif
    generic_scores(panels, groups, n, NULL, u, a, bias, out);
}

// MARK: - Eight queries, fused with the top-k threshold

/// Writes (qi, row0 + lane, keys[lane]) for every lane set in `mask`, lowest first; returns how many.
static inline size_t emit_lanes(unsigned mask, const float *keys, int qi, size_t row0, sy_candidate_t *out) {
    size_t k = 0;
    while (mask) {
        int lane = __builtin_ctz(mask);
        mask &= mask - 1;
        out[k].query = qi;
        out[k].row = (int32_t)(row0 + (size_t)lane);
        out[k].score = keys[lane];
        k++;
    }
    return k;
}

/// Writes (qi, r, keys[r]) for every row r < n whose key reaches `thr`; returns how many.
static size_t keep_reaching(const float *keys, size_t n, float thr, int qi, sy_candidate_t *out) {
    size_t k = 0;
    for (size_t r = 0; r < n; r++) {
        if (keys[r] >= thr) {
            out[k].query = qi;
            out[k].row = (int32_t)r;
            out[k].score = keys[r];
            k++;
        }
    }
    return k;
}

#if defined(__x86_64__)
VNNI_ATTR static inline size_t q8_emit(__m512i acc, int qi, size_t row0, size_t n, __m512 va, const float *bias,
                                       float thr, sy_candidate_t *out) {
    if (row0 >= n) return 0;
    size_t rows = n - row0 < 16 ? n - row0 : 16;
    __mmask16 valid = rows == 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << rows) - 1u);
    __m512 key = _mm512_fmadd_ps(va, _mm512_cvtepi32_ps(acc), _mm512_maskz_loadu_ps(valid, bias + row0));
    __mmask16 m = _mm512_mask_cmp_ps_mask(valid, key, _mm512_set1_ps(thr), _CMP_GE_OQ);
    if (!m) return 0;
    float s[16];
    _mm512_storeu_ps(s, key);
    return emit_lanes(m, s, qi, row0, out);
}

/// 8 queries × 32 rows: 16 accumulators; per component group 2 loads, 8 broadcasts, 16 `vpdpbusd`.
VNNI_ATTR static size_t q8_kernel_8x32(const int32_t *uw, size_t groups, const int8_t *pa, const int8_t *pb, size_t row0,
                                       size_t n, __m512 va, const float *bias, const float *thr, sy_candidate_t *out) {
    __m512i c00 = _mm512_setzero_si512(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    __m512i c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
    for (size_t g = 0; g < groups; g++) {
        __m512i a = _mm512_loadu_si512(pa + g * 64);
        __m512i b = _mm512_loadu_si512(pb + g * 64);
        const int32_t *w = uw + g * 8;
        __m512i x;
        x = _mm512_set1_epi32(w[0]); c00 = _mm512_dpbusd_epi32(c00, x, a); c01 = _mm512_dpbusd_epi32(c01, x, b);
        x = _mm512_set1_epi32(w[1]); c10 = _mm512_dpbusd_epi32(c10, x, a); c11 = _mm512_dpbusd_epi32(c11, x, b);
        x = _mm512_set1_epi32(w[2]); c20 = _mm512_dpbusd_epi32(c20, x, a); c21 = _mm512_dpbusd_epi32(c21, x, b);
        x = _mm512_set1_epi32(w[3]); c30 = _mm512_dpbusd_epi32(c30, x, a); c31 = _mm512_dpbusd_epi32(c31, x, b);
        x = _mm512_set1_epi32(w[4]); c40 = _mm512_dpbusd_epi32(c40, x, a); c41 = _mm512_dpbusd_epi32(c41, x, b);
        x = _mm512_set1_epi32(w[5]); c50 = _mm512_dpbusd_epi32(c50, x, a); c51 = _mm512_dpbusd_epi32(c51, x, b);
        x = _mm512_set1_epi32(w[6]); c60 = _mm512_dpbusd_epi32(c60, x, a); c61 = _mm512_dpbusd_epi32(c61, x, b);
        x = _mm512_set1_epi32(w[7]); c70 = _mm512_dpbusd_epi32(c70, x, a); c71 = _mm512_dpbusd_epi32(c71, x, b);
    }
    size_t k = 0, r1 = row0 + 16;
    k += q8_emit(c00, 0, row0, n, va, bias, thr[0], out + k); k += q8_emit(c01, 0, r1, n, va, bias, thr[0], out + k);
    k += q8_emit(c10, 1, row0, n, va, bias, thr[1], out + k); k += q8_emit(c11, 1, r1, n, va, bias, thr[1], out + k);
    k += q8_emit(c20, 2, row0, n, va, bias, thr[2], out + k); k += q8_emit(c21, 2, r1, n, va, bias, thr[2], out + k);
    k += q8_emit(c30, 3, row0, n, va, bias, thr[3], out + k); k += q8_emit(c31, 3, r1, n, va, bias, thr[3], out + k);
    k += q8_emit(c40, 4, row0, n, va, bias, thr[4], out + k); k += q8_emit(c41, 4, r1, n, va, bias, thr[4], out + k);
    k += q8_emit(c50, 5, row0, n, va, bias, thr[5], out + k); k += q8_emit(c51, 5, r1, n, va, bias, thr[5], out + k);
    k += q8_emit(c60, 6, row0, n, va, bias, thr[6], out + k); k += q8_emit(c61, 6, r1, n, va, bias, thr[6], out + k);
    k += q8_emit(c70, 7, row0, n, va, bias, thr[7], out + k); k += q8_emit(c71, 7, r1, n, va, bias, thr[7], out + k);
    return k;
}

VNNI_ATTR static size_t q8_kernel_8x16(const int32_t *uw, size_t groups, const int8_t *pa, size_t row0, size_t n,
                                       __m512 va, const float *bias, const float *thr, sy_candidate_t *out) {
    __m512i c[8];
    for (int i = 0; i < 8; i++) c[i] = _mm512_setzero_si512();
    for (size_t g = 0; g < groups; g++) {
        __m512i a = _mm512_loadu_si512(pa + g * 64);
        for (int i = 0; i < 8; i++) c[i] = _mm512_dpbusd_epi32(c[i], _mm512_set1_epi32(uw[g * 8 + (size_t)i]), a);
    }
    size_t k = 0;
    for (int i = 0; i < 8; i++) k += q8_emit(c[i], i, row0, n, va, bias, thr[i], out + k);
    return k;
}

VNNI_ATTR static size_t vnni_scan_8(const int8_t *panels, size_t groups, size_t n, const int32_t *uw, float a,
                                    const float *bias, const float *thr, sy_candidate_t *out) {
    size_t np = (n + 15) / 16, b = 0, k = 0;
    __m512 va = _mm512_set1_ps(a);
    for (; b + 2 <= np; b += 2) {
        k += q8_kernel_8x32(uw, groups, panels + b * 64 * groups, panels + (b + 1) * 64 * groups, b * 16, n, va, bias, thr, out + k);
    }
    if (b < np) k += q8_kernel_8x16(uw, groups, panels + b * 64 * groups, b * 16, n, va, bias, thr, out + k);
    return k;
}
#endif

#if defined(__x86_64__)
/// Emits the rows among 8 (`sums`, rows row0 …) whose key reaches `thr`.
AVX2_ATTR static inline size_t avx2_emit8(__m256i sums, int qi, size_t row0, size_t n, __m256 va, const float *bias,
                                          float thr, sy_candidate_t *out) {
    if (row0 >= n) return 0;
    size_t rows = n - row0 < 8 ? n - row0 : 8;
    __m256 vb;
    if (rows == 8) {
        vb = _mm256_loadu_ps(bias + row0);
    } else {
        // The last rows: the bias array may end here.
        float b[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        memcpy(b, bias + row0, rows * sizeof(float));
        vb = _mm256_loadu_ps(b);
    }
    __m256 key = _mm256_fmadd_ps(va, _mm256_cvtepi32_ps(sums), vb);
    unsigned m = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(key, _mm256_set1_ps(thr), _CMP_GE_OQ));
    m &= rows == 8 ? 0xFFu : ((1u << rows) - 1u);
    if (!m) return 0;
    float s[8];
    _mm256_storeu_ps(s, key);
    return emit_lanes(m, s, qi, row0, out);
}

/// 2 queries × one 16-row panel: each row chunk (4 rows × 4 codes, widened to 16 bits) is loaded once for both
/// queries; 8 accumulators of 16-bit products summed in pairs (exact, as `avx2_panel`).
AVX2_ATTR static size_t avx2_kernel_2x16(const int64_t *ua, const int64_t *ub, int qa, size_t groups, const int8_t *panel,
                                         size_t row0, size_t n, __m256 va, const float *bias, float ta, float tb,
                                         sy_candidate_t *out) {
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    for (size_t g = 0; g < groups; g++) {
        const int8_t *p = panel + g * 64;
        __m256i x = _mm256_set1_epi64x(ua[g]), y = _mm256_set1_epi64x(ub[g]);
        __m256i r = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)p));
        a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(r, x)); b0 = _mm256_add_epi32(b0, _mm256_madd_epi16(r, y));
        r = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(p + 16)));
        a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(r, x)); b1 = _mm256_add_epi32(b1, _mm256_madd_epi16(r, y));
        r = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(p + 32)));
        a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(r, x)); b2 = _mm256_add_epi32(b2, _mm256_madd_epi16(r, y));
        r = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(p + 48)));
        a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(r, x)); b3 = _mm256_add_epi32(b3, _mm256_madd_epi16(r, y));
    }
    // Chunk c holds rows 4c … 4c+3, two partial sums each: pairwise sums give rows 0–7 and 8–15 in order.
    __m256i sa0 = _mm256_permute4x64_epi64(_mm256_hadd_epi32(a0, a1), 0xD8);
    __m256i sa1 = _mm256_permute4x64_epi64(_mm256_hadd_epi32(a2, a3), 0xD8);
    __m256i sb0 = _mm256_permute4x64_epi64(_mm256_hadd_epi32(b0, b1), 0xD8);
    __m256i sb1 = _mm256_permute4x64_epi64(_mm256_hadd_epi32(b2, b3), 0xD8);
    size_t k = 0;
    k += avx2_emit8(sa0, qa, row0, n, va, bias, ta, out + k);
    k += avx2_emit8(sa1, qa, row0 + 8, n, va, bias, ta, out + k);
    k += avx2_emit8(sb0, qa + 1, row0, n, va, bias, tb, out + k);
    k += avx2_emit8(sb1, qa + 1, row0 + 8, n, va, bias, tb, out + k);
    return k;
}

/// 4 queries × one 16-row panel for codes below 64 (`uw[g * 8 + i]`: query qa + i's 4 codes of group g), as
/// `avx2_panel6`: each 8-row half of two groups' codes is loaded once for the 4 queries.
AVX2_ATTR static size_t avx2_kernel6_4x16(const int32_t *uw, int qa, size_t groups, const int8_t *panel, size_t row0, size_t n,
                                          __m256 va, const float *bias, const float *thr, sy_candidate_t *out) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
// Query i's codes of groups g and g + 1 against both 8-row halves, two groups' pair sums added in 16 bits.
#define SY_PAIR(c0, c1, i)                                                                             \
    do {                                                                                               \
        __m256i x = _mm256_set1_epi32(w[i]), y = _mm256_set1_epi32(w[8 + (i)]);                         \
        __m256i s0 = _mm256_add_epi16(_mm256_maddubs_epi16(x, lo0), _mm256_maddubs_epi16(y, lo1));      \
        __m256i s1 = _mm256_add_epi16(_mm256_maddubs_epi16(x, hi0), _mm256_maddubs_epi16(y, hi1));      \
        c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(s0, ones));                                        \
        c1 = _mm256_add_epi32(c1, _mm256_madd_epi16(s1, ones));                                        \
    } while (0)
    size_t g = 0;
    for (; g + 2 <= groups; g += 2) {
        const __m256i *p = (const __m256i *)(const void *)(panel + g * 64);
        __m256i lo0 = _mm256_loadu_si256(p), hi0 = _mm256_loadu_si256(p + 1);
        __m256i lo1 = _mm256_loadu_si256(p + 2), hi1 = _mm256_loadu_si256(p + 3);
        const int32_t *w = uw + g * 8 + qa;
        SY_PAIR(c00, c01, 0);
        SY_PAIR(c10, c11, 1);
        SY_PAIR(c20, c21, 2);
        SY_PAIR(c30, c31, 3);
    }
#undef SY_PAIR
    if (g < groups) {
        const __m256i *p = (const __m256i *)(const void *)(panel + g * 64);
        __m256i lo = _mm256_loadu_si256(p), hi = _mm256_loadu_si256(p + 1);
        const int32_t *w = uw + g * 8 + qa;
        __m256i q = _mm256_set1_epi32(w[0]);
        c00 = _mm256_add_epi32(c00, _mm256_madd_epi16(_mm256_maddubs_epi16(q, lo), ones));
        c01 = _mm256_add_epi32(c01, _mm256_madd_epi16(_mm256_maddubs_epi16(q, hi), ones));
        q = _mm256_set1_epi32(w[1]);
        c10 = _mm256_add_epi32(c10, _mm256_madd_epi16(_mm256_maddubs_epi16(q, lo), ones));
        c11 = _mm256_add_epi32(c11, _mm256_madd_epi16(_mm256_maddubs_epi16(q, hi), ones));
        q = _mm256_set1_epi32(w[2]);
        c20 = _mm256_add_epi32(c20, _mm256_madd_epi16(_mm256_maddubs_epi16(q, lo), ones));
        c21 = _mm256_add_epi32(c21, _mm256_madd_epi16(_mm256_maddubs_epi16(q, hi), ones));
        q = _mm256_set1_epi32(w[3]);
        c30 = _mm256_add_epi32(c30, _mm256_madd_epi16(_mm256_maddubs_epi16(q, lo), ones));
        c31 = _mm256_add_epi32(c31, _mm256_madd_epi16(_mm256_maddubs_epi16(q, hi), ones));
    }
    size_t k = 0;
    k += avx2_emit8(c00, qa, row0, n, va, bias, thr[qa], out + k);
    k += avx2_emit8(c01, qa, row0 + 8, n, va, bias, thr[qa], out + k);
    k += avx2_emit8(c10, qa + 1, row0, n, va, bias, thr[qa + 1], out + k);
    k += avx2_emit8(c11, qa + 1, row0 + 8, n, va, bias, thr[qa + 1], out + k);
    k += avx2_emit8(c20, qa + 2, row0, n, va, bias, thr[qa + 2], out + k);
    k += avx2_emit8(c21, qa + 2, row0 + 8, n, va, bias, thr[qa + 2], out + k);
    k += avx2_emit8(c30, qa + 3, row0, n, va, bias, thr[qa + 3], out + k);
    k += avx2_emit8(c31, qa + 3, row0 + 8, n, va, bias, thr[qa + 3], out + k);
    return k;
}

// The two batch scans below share their loop's shape. One loop taking either kernel (a flag inlined per caller)
// measured about 5% slower on AVX2 (interleaved `bench search` runs), so each keeps its own.

/// 8 queries with codes below 64 against every panel, 4 queries at a time.
AVX2_ATTR static size_t avx2_scan6_8(const int8_t *panels, size_t groups, size_t n, const int32_t *uw, float a,
                                     const float *bias, const float *thr, sy_candidate_t *out) {
    __m256 va = _mm256_set1_ps(a);
    size_t np = (n + 15) / 16, k = 0;
    for (size_t b = 0; b < np; b++) {
        const int8_t *panel = panels + b * 64 * groups;
        for (int qi = 0; qi < 8; qi += 4) {
            // Padding queries have an infinite threshold: skip four with nothing to find.
            if (thr[qi] == INFINITY && thr[qi + 1] == INFINITY && thr[qi + 2] == INFINITY && thr[qi + 3] == INFINITY) continue;
            k += avx2_kernel6_4x16(uw, qi, groups, panel, b * 16, n, va, bias, thr, out + k);
        }
    }
    return k;
}

/// 8 queries (`u16[i * groups + g]`: query i's widened codes of group g) against every panel, 2 queries at a time.
AVX2_ATTR static size_t avx2_scan_8(const int8_t *panels, size_t groups, size_t n, const int64_t *u16, float a,
                                    const float *bias, const float *thr, sy_candidate_t *out) {
    __m256 va = _mm256_set1_ps(a);
    size_t np = (n + 15) / 16, k = 0;
    for (size_t b = 0; b < np; b++) {
        const int8_t *panel = panels + b * 64 * groups;
        for (int qi = 0; qi < 8; qi += 2) {
            // Padding queries have an infinite threshold: skip a pair with nothing to find.
            if (thr[qi] == INFINITY && thr[qi + 1] == INFINITY) continue;
            k += avx2_kernel_2x16(u16 + (size_t)qi * groups, u16 + (size_t)(qi + 1) * groups, qi, groups, panel, b * 16, n, va,
                                  bias, thr[qi], thr[qi + 1], out + k);
        }
    }
    return k;
}
#endif

size_t sy_q8_scan_8(int path, const int8_t *panels, size_t groups, size_t n, const int32_t *uw, float a,
                    const float *bias, const float *thresholds, sy_candidate_t *out, float *scratch) {
#if defined(__x86_64__)
    if (path == SY_Q8_VNNI) return vnni_scan_8(panels, groups, n, uw, a, bias, thresholds, out);
    if (path == SY_Q8_AVX2 && below_64((const uint8_t *)(const void *)uw, 32 * groups)) {
        return avx2_scan6_8(panels, groups, n, uw, a, bias, thresholds, out);
    }
    // (This AVX2 kernel keeps the queries' widened codes on the stack: 64 bytes per group.)
    if (path == SY_Q8_AVX2 && groups <= 1024) {
        int64_t u16[8 * (groups > 0 ? groups : 1)];
        for (size_t i = 0; i < 8; i++) {
            uint8_t u[4 * (groups > 0 ? groups : 1)];
            for (size_t g = 0; g < groups; g++) memcpy(u + g * 4, uw + g * 8 + i, 4);
            widen_codes(u, groups, u16 + i * groups);
        }
        return avx2_scan_8(panels, groups, n, u16, a, bias, thresholds, out);
    }
#endif
    // The generic path: one query at a time through the single-query kernel, then the same threshold rule.
    size_t k = 0;
    uint8_t u[4 * (groups > 0 ? groups : 1)];
    for (int qi = 0; qi < 8; qi++) {
        for (size_t g = 0; g < groups; g++) memcpy(u + g * 4, uw + g * 8 + (size_t)qi, 4);
        sy_q8_scores(path, panels, groups, n, u, a, bias, scratch);
        k += keep_reaching(scratch, n, thresholds[qi], qi, out + k);
    }
    return k;
}

size_t sy_q16_scan_8(int path, const int8_t *panels, size_t groups, size_t n, const uint16_t *u, float a,
                     const float *bias, const float *thresholds, sy_candidate_t *out, float *scratch) {
#if defined(__x86_64__)
    if (path != SY_Q8_GENERIC && groups <= 1024) {
        int64_t u16[8 * (groups > 0 ? groups : 1)];
        for (size_t i = 0; i < 8; i++) pack_codes16(u + i * 4 * groups, groups, u16 + i * groups);
        return avx2_scan_8(panels, groups, n, u16, a, bias, thresholds, out);
    }
#endif
    size_t k = 0;
    for (int qi = 0; qi < 8; qi++) {
        sy_q16_scores(path, panels, groups, n, u + (size_t)qi * 4 * groups, a, bias, scratch);
        k += keep_reaching(scratch, n, thresholds[qi], qi, out + k);
    }
    return k;
}

// MARK: - Encoding

#if defined(__x86_64__)
/// The first `d / 8 * 8` components, as the scalar loop below encodes them (same products, clamps and rounding).
AVX2_ATTR static int32_t avx2_encode(const float *x, size_t d, float center, float inverse, int8_t *codes) {
    __m256 c = _mm256_set1_ps(center), inv = _mm256_set1_ps(inverse);
    __m256 lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
    __m256i sum = _mm256_setzero_si256();
    for (size_t i = 0; i + 8 <= d; i += 8) {
        __m256 v = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), c), inv);
        v = _mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q));  // NaN → 0
        v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
        __m256i q = _mm256_cvtps_epi32(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        sum = _mm256_add_epi32(sum, q);
        int32_t t[8];
        _mm256_storeu_si256((__m256i *)t, q);
        for (int j = 0; j < 8; j++) codes[i + (size_t)j] = (int8_t)t[j];
    }
    int32_t t[8];
    _mm256_storeu_si256((__m256i *)t, sum);
    return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
}
#endif

int32_t sy_q8_encode(const float *x, size_t d, float center, float inverse, int8_t *codes, size_t padded) {
    int32_t sum = 0;
    size_t i = 0;
#if defined(__x86_64__)
    if (sy_kernel_level() >= SY_KERNEL_AVX2) {
        sum = avx2_encode(x, d, center, inverse, codes);
        i = d / 8 * 8;
    }
#endif
    for (; i < d; i++) {
        float v = (x[i] - center) * inverse;
        // Clamped first (NaN becomes 0: both comparisons are false), then rounded half to even.
        v = v > 127.0f ? 127.0f : (v < -127.0f ? -127.0f : (v == v ? v : 0.0f));
        int8_t c = (int8_t)nearbyintf(v);
        codes[i] = c;
        sum += c;
    }
    for (size_t j = d; j < padded; j++) codes[j] = 0;
    return sum;
}

double sy_q8_residual(const float *x, const int8_t *codes, size_t d, float center, float step) {
    double c = (double)center, st = (double)step, s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= d; i += 4) {
        double e0 = (double)x[i] - (c + st * codes[i]), e1 = (double)x[i + 1] - (c + st * codes[i + 1]);
        double e2 = (double)x[i + 2] - (c + st * codes[i + 2]), e3 = (double)x[i + 3] - (c + st * codes[i + 3]);
        s0 += e0 * e0;
        s1 += e1 * e1;
        s2 += e2 * e2;
        s3 += e3 * e3;
    }
    for (; i < d; i++) {
        double e = (double)x[i] - (c + st * codes[i]);
        s0 += e * e;
    }
    return (s0 + s1) + (s2 + s3);
}

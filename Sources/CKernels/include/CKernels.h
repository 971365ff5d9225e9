#ifndef SWITCHYARD_CKERNELS_H
#define SWITCHYARD_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Kernel families, best last. `sy_kernel_level()` reports the one in use.
typedef enum {
    SY_KERNEL_GENERIC = 0,
    SY_KERNEL_AVX2 = 1,
    SY_KERNEL_AVX512 = 2,
} sy_kernel_level_t;

/// Per-row measures computed by the kernels.
typedef enum {
    SY_MEASURE_DOT = 0,   ///< inner product
    SY_MEASURE_L2SQ = 1,  ///< squared Euclidean distance
    SY_MEASURE_L1 = 2,    ///< Manhattan distance
} sy_measure_t;

/// The best kernel level this CPU (and OS) supports.
int sy_detected_kernel_level(void);
/// The kernel level in use (the detected one unless lowered with `sy_set_kernel_level`).
int sy_kernel_level(void);
/// Uses `level`, clamped to what the CPU supports; returns the level now in use.
int sy_set_kernel_level(int level);
/// A short name of a level: "generic", "avx2", "avx512".
const char *sy_kernel_level_name(int level);

/// out[i] = measure(rows[i*d ..< i*d+d], q) for i in 0..<n.
/// Every row is computed with the same sequence of operations, so identical rows give identical values.
void sy_score_rows(int measure, const float *rows, size_t n, size_t d, const float *q, float *out);

/// out[j] = measure(rows[idx[j]*d ...], q) for j in 0..<m.
void sy_score_gather(int measure, const float *rows, size_t d, const int32_t *idx, size_t m,
                     const float *q, float *out);

/// The measure of two vectors, with the same arithmetic as `sy_score_rows`.
float sy_score_one(int measure, const float *a, const float *b, size_t d);

#ifdef __cplusplus
}
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif
/// `dlsym(RTLD_DEFAULT, name)`.
void *sy_lookup_symbol(const char *name);
/// The path of the shared object that defines `name`, or NULL.
const char *sy_symbol_library(const char *name);
/// Writes `message` to standard error and flushes it.
void sy_write_stderr(const char *message);
#ifdef __cplusplus
}
#endif

#ifdef __cplusplus
extern "C" {
#endif
/// Floats needed to pack `n` rows of dimension `d` into 16-row panels (rows padded with zeros).
size_t sy_panel_floats(size_t n, size_t d);
/// Packs `n` rows into panels: panel b holds rows 16b..16b+15, component-major (`panels` 64-byte aligned).
void sy_pack_panels(const float *rows, size_t n, size_t d, float *panels);
/// Whether `sy_packed_scan_8` is available (AVX-512 in use).
int sy_has_packed_gemm(void);
/// A row that reached its query's threshold in `sy_packed_scan_8`.
typedef struct {
    int32_t query; ///< 0..<8, the query within the group
    int32_t row;   ///< the row within the scanned block
    float score;   ///< q·row, or 2·q·row − ‖row‖² when norms are given
} sy_candidate_t;
/// Scores 8 queries (`q` is 8 × d) against the first `nrows` rows packed in `panels`, without storing a
/// score matrix: every (query, row) whose score reaches `thresholds[query]` (score ≥ threshold, so NaN
/// never does) is appended to `out`, at most 8 × nrows of them; returns how many. With `norms`
/// (‖row‖² of the block's rows), the score is 2·q·row − ‖row‖², the L2 ranking key without ‖q‖².
size_t sy_packed_scan_8(const float *q, size_t d, const float *panels, size_t nrows, const float *norms,
                        const float *thresholds, sy_candidate_t *out);
#ifdef __cplusplus
}
#endif

#ifdef __cplusplus
extern "C" {
#endif
/// The measure of two vectors accumulated in double precision (used to rank the final candidates): the same
/// value, bit for bit, on every kernel level.
double sy_score_one_f64(int measure, const float *a, const float *b, size_t d);
/// out[j] = sy_score_one_f64(measure, rows + idx[j]·d, q, d) for j in 0..<m, each row's cache lines asked for
/// two rows ahead.
void sy_score_gather_f64(int measure, const float *rows, size_t d, const int32_t *idx, size_t m, const float *q,
                         double *out);
#ifdef __cplusplus
}
#endif

#ifdef __cplusplus
extern "C" {
#endif
/// Int8 kernel paths, best last.
typedef enum {
    SY_Q8_GENERIC = 0,
    SY_Q8_AVX2 = 1,
    SY_Q8_VNNI = 2,  ///< AVX-512 VNNI (`vpdpbusd`)
} sy_q8_path_t;
/// The int8 path the kernel level in use allows (VNNI needs the AVX-512 level and the VNNI extension).
int sy_q8_path(void);
/// "avx512-vnni", "avx2" or "generic".
const char *sy_q8_path_name(int path);
/// Bytes of the 16-row panels holding `n` rows of `groups` 4-component groups.
size_t sy_q8_panel_bytes(size_t n, size_t groups);
/// Writes / reads row `row`'s `4 × groups` codes in the panels.
void sy_q8_put_row(int8_t *panels, size_t groups, size_t row, const int8_t *codes);
void sy_q8_get_row(const int8_t *panels, size_t groups, size_t row, int8_t *codes);
/// out[r] = a · Σ u·s(row r) + bias[r] for the first `n` rows (`u`: the query's `4 × groups` unsigned codes).
/// Every path computes the same integer sum exactly.
void sy_q8_scores(int path, const int8_t *panels, size_t groups, size_t n, const uint8_t *u, float a,
                  const float *bias, float *out);
/// The same with 16-bit query codes (0 … 32,767): the caller keeps every row's Σ u·s within 32 bits. The AVX2
/// and VNNI paths run the AVX2 kernel (whose products are 16-bit anyway) up to 4,096 groups, the generic one
/// beyond; every path gives the same integers.
void sy_q16_scores(int path, const int8_t *panels, size_t groups, size_t n, const uint16_t *u, float a,
                   const float *bias, float *out);
/// Encodes `d` floats as codes clamp(round((x − center) · inverse), −127, 127) (half to even; NaN → 0), zeroes
/// codes `d ..< padded`, and returns the sum of the codes.
int32_t sy_q8_encode(const float *x, size_t d, float center, float inverse, int8_t *codes, size_t padded);
/// Σ (x − (center + step·code))² over `d` components, in double precision: the squared quantization error.
double sy_q8_residual(const float *x, const int8_t *codes, size_t d, float center, float step);
/// The same key for 8 queries (`uw[g * 8 + i]`: query i's 4 codes of group g as one 32-bit word), keeping
/// only (query, row, key) with key ≥ thresholds[query], as `sy_packed_scan_8` does; returns how many.
/// `scratch` holds `n` floats (used by the generic path, and by AVX2 with codes above 127 beyond 4,096
/// components).
size_t sy_q8_scan_8(int path, const int8_t *panels, size_t groups, size_t n, const int32_t *uw, float a,
                    const float *bias, const float *thresholds, sy_candidate_t *out, float *scratch);
/// The same with 16-bit query codes (`u + i · 4 · groups`: query i's codes), as `sy_q16_scores`.
size_t sy_q16_scan_8(int path, const int8_t *panels, size_t groups, size_t n, const uint16_t *u, float a,
                     const float *bias, const float *thresholds, sy_candidate_t *out, float *scratch);
#ifdef __cplusplus
}
#endif

#ifdef __cplusplus
extern "C" {
#endif
// MARK: - BERT encoder steps (encoder.c)

/// x ← x·Φ(x) = x/2·(1 + erf(x/√2)), the exact GELU (erf with absolute error below 1.5e-7).
void sy_gelu_erf(float *x, size_t n);
/// row ← softmax(row), in place.
void sy_softmax(float *row, size_t n);
/// Adds `bias` (cols) to each of `rows` rows of `y`.
void sy_add_bias(float *y, const float *bias, size_t rows, size_t cols);
/// x ← LayerNorm(x + residual) row by row over `h` components (`residual` may be NULL).
void sy_layer_norm(float *x, const float *residual, size_t rows, size_t h, const float *gain, const float *bias,
                   float epsilon);
#ifdef __cplusplus
}
#endif

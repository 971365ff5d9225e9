// Element-wise steps of the BERT encoder (GELU, softmax, bias, layer norm), written as plain loops that the
// compiler vectorises, once per kernel family (generic, AVX2, AVX-512) and chosen at run time like the
// distance kernels. The exponential and erf are computed here rather than by libm, whose scalar calls took
// 30% of an encoding pass (docs/embedders.md).
#include "CKernels.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

// e^x as 2^k · e^r with |r| ≤ ln2/2 and a degree-7 Taylor polynomial (relative error below 2e-7); inputs are
// clamped to [-87.3, 88.0], so 2^k stays a normal float (the encoder only passes x ≤ 0).
static inline float sy_exp(float x) {
    x = fminf(fmaxf(x, -87.3f), 88.0f);
    float k = rintf(x * 1.44269504088896341f);
    float r = fmaf(k, -0.693145751953125f, x);
    r = fmaf(k, -1.428606765330187e-06f, r);
    float p = 1.0f / 5040.0f;
    p = fmaf(p, r, 1.0f / 720.0f);
    p = fmaf(p, r, 1.0f / 120.0f);
    p = fmaf(p, r, 1.0f / 24.0f);
    p = fmaf(p, r, 1.0f / 6.0f);
    p = fmaf(p, r, 0.5f);
    p = fmaf(p, r, 1.0f);
    p = fmaf(p, r, 1.0f);
    int32_t bits = ((int32_t)k + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

// erf(x) by Abramowitz & Stegun 7.1.26: 1 − (a1·t + … + a5·t⁵)·e^(−x²), t = 1/(1 + p·|x|); absolute error
// below 1.5e-7 (the same formula oneDNN uses for GELU).
static inline float sy_erf(float x) {
    float a = fabsf(x);
    float t = 1.0f / fmaf(0.3275911f, a, 1.0f);
    float y = 1.061405429f;
    y = fmaf(y, t, -1.453152027f);
    y = fmaf(y, t, 1.421413741f);
    y = fmaf(y, t, -0.284496736f);
    y = fmaf(y, t, 0.254829592f);
    y *= t;
    float e = 1.0f - y * sy_exp(-a * a);
    return copysignf(e, x);
}

#define SY_ENCODER_KERNELS(prefix, attr)                                                                          \
    attr static void prefix##_gelu(float *x, size_t n) {                                                          \
        for (size_t i = 0; i < n; i++) {                                                                          \
            float v = x[i];                                                                                       \
            x[i] = 0.5f * v * (1.0f + sy_erf(v * 0.70710678118654752f));                                          \
        }                                                                                                         \
    }                                                                                                             \
    attr static void prefix##_softmax(float *row, size_t n) {                                                     \
        float peak = -INFINITY;                                                                                   \
        for (size_t i = 0; i < n; i++) peak = fmaxf(peak, row[i]);                                                \
        for (size_t i = 0; i < n; i++) row[i] = sy_exp(row[i] - peak);                                           \
        float sum = 0;                                                                                            \
        for (size_t i = 0; i < n; i++) sum += row[i];                                                             \
        float inverse = 1.0f / sum;                                                                               \
        for (size_t i = 0; i < n; i++) row[i] *= inverse;                                                         \
    }                                                                                                             \
    attr static void prefix##_add_bias(float *y, const float *bias, size_t rows, size_t cols) {                   \
        for (size_t r = 0; r < rows; r++) {                                                                       \
            float *out = y + r * cols;                                                                            \
            for (size_t c = 0; c < cols; c++) out[c] += bias[c];                                                  \
        }                                                                                                         \
    }                                                                                                             \
    attr static void prefix##_layer_norm(float *x, const float *residual, size_t rows, size_t h, const float *gain, \
                                         const float *bias, float epsilon) {                                      \
        for (size_t r = 0; r < rows; r++) {                                                                       \
            float *row = x + r * h;                                                                               \
            if (residual) {                                                                                       \
                const float *add = residual + r * h;                                                              \
                for (size_t c = 0; c < h; c++) row[c] += add[c];                                                  \
            }                                                                                                     \
            float sum = 0;                                                                                        \
            for (size_t c = 0; c < h; c++) sum += row[c];                                                         \
            float mean = sum / (float)h;                                                                          \
            float squares = 0;                                                                                    \
            for (size_t c = 0; c < h; c++) {                                                                      \
                float t = row[c] - mean;                                                                          \
                squares += t * t;                                                                                 \
            }                                                                                                     \
            float inverse = 1.0f / sqrtf(squares / (float)h + epsilon);                                           \
            for (size_t c = 0; c < h; c++) row[c] = (row[c] - mean) * inverse * gain[c] + bias[c];               \
        }                                                                                                         \
    }

SY_ENCODER_KERNELS(generic, )
#if defined(__x86_64__)
SY_ENCODER_KERNELS(avx2, __attribute__((target("avx2,fma"))))
SY_ENCODER_KERNELS(avx512, __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma"))))
#define SY_DISPATCH(name, ...)                                                                                    \
    switch (sy_kernel_level()) {                                                                                  \
    case SY_KERNEL_AVX512: avx512_##name(__VA_ARGS__); return;                                                    \
    case SY_KERNEL_AVX2: avx2_##name(__VA_ARGS__); return;                                                        \
    default: generic_##name(__VA_ARGS__); return;                                                                 \
    }
#else
#define SY_DISPATCH(name, ...) generic_##name(__VA_ARGS__)
#endif

void sy_gelu_erf(float *x, size_t n) { SY_DISPATCH(gelu, x, n) }
void sy_softmax(float *row, size_t n) { SY_DISPATCH(softmax, row, n) }
void sy_add_bias(float *y, const float *bias, size_t rows, size_t cols) { SY_DISPATCH(add_bias, y, bias, rows, cols) }
void sy_layer_norm(float *x, const float *residual, size_t rows, size_t h, const float *gain, const float *bias,
                   float epsilon) {
    SY_DISPATCH(layer_norm, x, residual, rows, h, gain, bias, epsilon)
}

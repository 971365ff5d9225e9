import CBLAS
import CKernels
import Foundation

/// Runs ``BertModel``'s forward pass over a batch of tokenised texts, with buffers reused from batch
/// to batch: nothing is allocated per token.
///
/// The texts of a batch are packed one after another, without padding: the per-token layers
/// (projections, feed-forward, layer norms) run as one `sgemm` over all the batch's tokens, and
/// attention runs per text and head over that text's own tokens, which is what the padding mask of
/// the reference computes. A text's vector therefore does not depend on the texts batched with it
/// beyond `sgemm`'s rounding.
///
/// Not thread-safe: each thread uses an encoder of its own.
final class BertEncoder {
    let model: BertModel
    private var capacity = 0
    private var hidden: UnsafeMutablePointer<Float>
    private var qkv: UnsafeMutablePointer<Float>
    private var context: UnsafeMutablePointer<Float>
    private var projected: UnsafeMutablePointer<Float>
    private var intermediate: UnsafeMutablePointer<Float>
    private let scores: UnsafeMutablePointer<Float>

    init(model: BertModel) {
        self.model = model
        let l = model.maxSequenceLength
        scores = .allocate(capacity: l * l)
        hidden = .allocate(capacity: 1)
        qkv = .allocate(capacity: 1)
        context = .allocate(capacity: 1)
        projected = .allocate(capacity: 1)
        intermediate = .allocate(capacity: 1)
    }

    deinit {
        for p in [scores, hidden, qkv, context, projected, intermediate] { p.deallocate() }
    }

    private func reserve(tokens: Int) {
        guard tokens > capacity else { return }
        let n = max(tokens, capacity * 3 / 2)
        let h = model.dimension
        for p in [hidden, qkv, context, projected, intermediate] { p.deallocate() }
        hidden = .allocate(capacity: n * h)
        qkv = .allocate(capacity: n * 3 * h)
        context = .allocate(capacity: n * h)
        projected = .allocate(capacity: n * h)
        intermediate = .allocate(capacity: n * model.intermediateSize)
        capacity = n
    }

    /// Encodes texts' ids (each at most ``BertModel/maxSequenceLength`` long) and writes one pooled
    /// vector per text to `output`, `dimension` floats apart.
    func encode(_ batch: ArraySlice<[Int32]>, into output: UnsafeMutablePointer<Float>) {
        let h = model.dimension
        let tokens = batch.reduce(0) { $0 + $1.count }
        reserve(tokens: tokens)
        embed(batch)
        for layer in model.layers { run(layer, batch) }
        // Mean over each text's tokens, then unit length.
        var offset = 0
        for (i, ids) in batch.enumerated() {
            let out = output + i * h
            out.initialize(repeating: 0, count: h)
            for t in 0..<ids.count {
                let row = hidden + (offset + t) * h
                for c in 0..<h { out[c] += row[c] }
            }
            let inverse = 1 / Float(max(ids.count, 1))
            for c in 0..<h { out[c] *= inverse }
            if model.normalizes {
                var sum: Float = 0
                for c in 0..<h { sum += out[c] * out[c] }
                let scale = 1 / max(sum.squareRoot(), 1e-12)
                for c in 0..<h { out[c] *= scale }
            }
            offset += ids.count
        }
    }

    // MARK: - Layers

    private func embed(_ batch: ArraySlice<[Int32]>) {
        let h = model.dimension
        var row = 0
        model.wordEmbeddings.withUnsafeBufferPointer { words in
            model.positionEmbeddings.withUnsafeBufferPointer { positions in
                model.tokenTypeEmbeddings.withUnsafeBufferPointer { types in
                    for ids in batch {
                        for (p, id) in ids.enumerated() {
                            let out = hidden + row * h
                            let w = words.baseAddress! + Int(id) * h, pos = positions.baseAddress! + p * h, ty = types.baseAddress!
                            for c in 0..<h { out[c] = w[c] + pos[c] + ty[c] }
                            row += 1
                        }
                    }
                }
            }
        }
        model.embeddingNormGain.withUnsafeBufferPointer { g in
            model.embeddingNormBias.withUnsafeBufferPointer { b in
                layerNorm(hidden, adding: nil, rows: row, gain: g.baseAddress!, bias: b.baseAddress!)
            }
        }
    }

    private func run(_ layer: BertModel.Layer, _ batch: ArraySlice<[Int32]>) {
        let h = model.dimension, tokens = batch.reduce(0) { $0 + $1.count }
        linear(hidden, rows: tokens, inputs: h, layer.qkvWeight, layer.qkvBias, outputs: 3 * h, into: qkv)
        attention(batch)
        linear(context, rows: tokens, inputs: h, layer.attentionOutputWeight, layer.attentionOutputBias, outputs: h, into: projected)
        layer.attentionNormGain.withUnsafeBufferPointer { g in
            layer.attentionNormBias.withUnsafeBufferPointer { b in
                layerNorm(hidden, adding: projected, rows: tokens, gain: g.baseAddress!, bias: b.baseAddress!)
            }
        }
        linear(hidden, rows: tokens, inputs: h, layer.intermediateWeight, layer.intermediateBias, outputs: model.intermediateSize, into: intermediate)
        sy_gelu_erf(intermediate, tokens * model.intermediateSize)
        linear(intermediate, rows: tokens, inputs: model.intermediateSize, layer.outputWeight, layer.outputBias, outputs: h, into: projected)
        layer.outputNormGain.withUnsafeBufferPointer { g in
            layer.outputNormBias.withUnsafeBufferPointer { b in
                layerNorm(hidden, adding: projected, rows: tokens, gain: g.baseAddress!, bias: b.baseAddress!)
            }
        }
    }

    /// `y = x · wᵀ + b` for `rows` rows: one `sgemm`, then the bias.
    private func linear(_ x: UnsafeMutablePointer<Float>, rows: Int, inputs: Int, _ weight: [Float], _ bias: [Float], outputs: Int,
                        into y: UnsafeMutablePointer<Float>) {
        weight.withUnsafeBufferPointer { w in
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(outputs), Int32(inputs),
                        1, x, Int32(inputs), w.baseAddress!, Int32(inputs), 0, y, Int32(outputs))
        }
        bias.withUnsafeBufferPointer { b in sy_add_bias(y, b.baseAddress!, rows, outputs) }
    }

    /// Self-attention of each text over its own tokens, head by head, into ``context``.
    private func attention(_ batch: ArraySlice<[Int32]>) {
        let h = model.dimension, heads = model.heads, d = h / heads
        let scale = 1 / Float(d).squareRoot()
        var offset = 0
        for ids in batch {
            let n = ids.count
            for head in 0..<heads {
                let q = qkv + offset * 3 * h + head * d
                let k = q + h, v = q + 2 * h
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(n), Int32(d),
                            scale, q, Int32(3 * h), k, Int32(3 * h), 0, scores, Int32(n))
                for r in 0..<n { sy_softmax(scores + r * n, n) }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(d), Int32(n),
                            1, scores, Int32(n), v, Int32(3 * h), 0, context + offset * h + head * d, Int32(h))
            }
            offset += n
        }
    }

    /// `x = LayerNorm(x + residual)` row by row (`residual` may be `nil`).
    private func layerNorm(_ x: UnsafeMutablePointer<Float>, adding residual: UnsafeMutablePointer<Float>?, rows: Int,
                           gain: UnsafePointer<Float>, bias: UnsafePointer<Float>) {
        sy_layer_norm(x, residual, rows, model.dimension, gain, bias, model.layerNormEpsilon)
    }
}

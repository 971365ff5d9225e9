import Foundation
import SwitchyardJSON

/// A BERT-family sentence-transformers model held in memory: its tokenizer, its weights and the
/// pooling its directory describes. Immutable, so one instance serves every thread.
///
/// ```swift
/// let model = try BertModel(directory: "~/.cache/switchyard/models/all-MiniLM-L6-v2")
/// model.dimension   // 384
/// ```
///
/// The directory holds `config.json` (a `bert` model with `gelu` activation), `model.safetensors`
/// (float32), `tokenizer.json`, `sentence_bert_config.json` (`max_seq_length`), `1_Pooling/config.json`
/// (mean pooling) and `modules.json` (whether a `Normalize` module follows).
public final class BertModel: Sendable {
    /// The directory the model was read from.
    public let directory: String
    /// The directory's last component, e.g. `all-MiniLM-L6-v2`.
    public let name: String
    /// The tokenizer of `tokenizer.json`, truncating at ``maxSequenceLength``.
    public let tokenizer: WordPieceTokenizer
    /// Hidden size: the vectors' dimension.
    public let dimension: Int
    /// Attention heads per layer.
    public let heads: Int
    /// The feed-forward layer's width.
    public let intermediateSize: Int
    /// The most tokens per text, `[CLS]` and `[SEP]` included.
    public let maxSequenceLength: Int
    /// Whether vectors are scaled to unit length (a `Normalize` module in `modules.json`).
    public let normalizes: Bool
    /// Rows of the word-embedding table.
    public let vocabularySize: Int
    /// The first 16 hex digits of `model.safetensors`'s SHA-256.
    public let weightsDigest: String

    let layerNormEpsilon: Float
    let wordEmbeddings: [Float]
    let positionEmbeddings: [Float]
    let tokenTypeEmbeddings: [Float]
    let embeddingNormGain: [Float]
    let embeddingNormBias: [Float]
    let layers: [Layer]

    /// One encoder layer's weights, `[out, in]` row-major as PyTorch stores them.
    struct Layer: Sendable {
        /// Query, key and value projections stacked: `[3h, h]`, and their biases `[3h]`.
        let qkvWeight: [Float], qkvBias: [Float]
        let attentionOutputWeight: [Float], attentionOutputBias: [Float]
        let attentionNormGain: [Float], attentionNormBias: [Float]
        let intermediateWeight: [Float], intermediateBias: [Float]
        let outputWeight: [Float], outputBias: [Float]
        let outputNormGain: [Float], outputNormBias: [Float]
    }

    /// Reads a model directory.
    ///
    /// - Throws: ``EmbeddingError``: `io` when a file is missing or unreadable; `invalidInput` when the
    ///   model is not a BERT sentence-transformers model this encoder runs (another activation, pooling
    ///   or position embedding) or a tensor has the wrong shape.
    public init(directory: String) throws(EmbeddingError) {
        self.directory = directory
        self.name = (directory as NSString).lastPathComponent
        func file(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
        guard let config = try ModelFiles.readJSON(file("config.json")).objectValue else {
            throw .invalidInput("\(file("config.json")) is not a JSON object")
        }
        func unsupported(_ what: String) -> EmbeddingError { .invalidInput("\(file("config.json")): \(what); only BERT encoders with erf GELU and absolute positions are supported") }
        guard config["model_type"]?.stringValue == "bert" else { throw unsupported("model_type is '\(config["model_type"]?.stringValue ?? "missing")'") }
        guard config["hidden_act"]?.stringValue == "gelu" else { throw unsupported("hidden_act is '\(config["hidden_act"]?.stringValue ?? "missing")'") }
        if let p = config["position_embedding_type"]?.stringValue, p != "absolute" { throw unsupported("position_embedding_type is '\(p)'") }
        guard let hidden = ModelFiles.integer(config, "hidden_size"), let heads = ModelFiles.integer(config, "num_attention_heads"),
              let layerCount = ModelFiles.integer(config, "num_hidden_layers"), let intermediate = ModelFiles.integer(config, "intermediate_size"),
              let vocabularySize = ModelFiles.integer(config, "vocab_size"), let positions = ModelFiles.integer(config, "max_position_embeddings"),
              hidden > 0, heads > 0, hidden % heads == 0, layerCount > 0, intermediate > 0, vocabularySize > 0, positions > 2
        else { throw unsupported("hidden_size, num_attention_heads, num_hidden_layers, intermediate_size, vocab_size or max_position_embeddings is missing or inconsistent") }
        let typeCount = ModelFiles.integer(config, "type_vocab_size") ?? 2
        self.layerNormEpsilon = Float(config["layer_norm_eps"]?.numberValue ?? 1e-12)

        // Pooling and normalisation, as sentence-transformers' modules say.
        if let pooling = try? ModelFiles.readJSON(file("1_Pooling/config.json")).objectValue {
            let mean: Bool = if case .bool(true)? = pooling["pooling_mode_mean_tokens"] { true } else { false }
            let others = ["pooling_mode_cls_token", "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens"].filter {
                if case .bool(true)? = pooling[$0] { true } else { false }
            }
            guard mean, others.isEmpty else {
                throw .invalidInput("\(file("1_Pooling/config.json")): only mean pooling is supported (found \(others.isEmpty ? "no mean pooling" : others.joined(separator: ", ")))")
            }
        } else {
            throw .io("model file \(file("1_Pooling/config.json")) is missing or unreadable: the pooling is unknown")
        }
        let modules = (try? ModelFiles.readJSON(file("modules.json")).arrayValue) ?? []
        self.normalizes = modules.contains { $0.objectValue?["type"]?.stringValue?.hasSuffix("Normalize") == true }
        var maxLength = 512
        if let st = try? ModelFiles.readJSON(file("sentence_bert_config.json")).objectValue, let m = ModelFiles.integer(st, "max_seq_length") {
            maxLength = m
        }
        guard maxLength >= 2, maxLength <= positions else {
            throw .invalidInput("\(file("sentence_bert_config.json")): max_seq_length \(maxLength) must lie in 2…\(positions)")
        }

        self.tokenizer = try WordPieceTokenizer(directory: directory, maxLength: maxLength)
        guard Int(tokenizer.largestID) < vocabularySize else {
            throw .invalidInput("\(file("tokenizer.json")): the vocabulary has ids beyond vocab_size \(vocabularySize)")
        }
        let weightsPath = file("model.safetensors")
        let weights = try SafeTensors(path: weightsPath)
        self.weightsDigest = String(try ContentHash.sha256(ofFileAt: weightsPath).prefix(16))
        let h = hidden
        func t(_ n: String, _ shape: [Int]) throws(EmbeddingError) -> [Float] { try weights.tensor(n, shape: shape) }
        // Some exports prefix every name with "bert.".
        let prefix = weights.tensors["embeddings.word_embeddings.weight"] == nil && weights.tensors["bert.embeddings.word_embeddings.weight"] != nil ? "bert." : ""
        wordEmbeddings = try t(prefix + "embeddings.word_embeddings.weight", [vocabularySize, h])
        positionEmbeddings = try t(prefix + "embeddings.position_embeddings.weight", [positions, h])
        tokenTypeEmbeddings = try t(prefix + "embeddings.token_type_embeddings.weight", [typeCount, h])
        embeddingNormGain = try t(prefix + "embeddings.LayerNorm.weight", [h])
        embeddingNormBias = try t(prefix + "embeddings.LayerNorm.bias", [h])
        var layers: [Layer] = []
        for l in 0..<layerCount {
            let p = "\(prefix)encoder.layer.\(l)."
            let qkvWeight = try t(p + "attention.self.query.weight", [h, h]) + t(p + "attention.self.key.weight", [h, h]) + t(p + "attention.self.value.weight", [h, h])
            let qkvBias = try t(p + "attention.self.query.bias", [h]) + t(p + "attention.self.key.bias", [h]) + t(p + "attention.self.value.bias", [h])
            layers.append(Layer(
                qkvWeight: qkvWeight, qkvBias: qkvBias,
                attentionOutputWeight: try t(p + "attention.output.dense.weight", [h, h]),
                attentionOutputBias: try t(p + "attention.output.dense.bias", [h]),
                attentionNormGain: try t(p + "attention.output.LayerNorm.weight", [h]),
                attentionNormBias: try t(p + "attention.output.LayerNorm.bias", [h]),
                intermediateWeight: try t(p + "intermediate.dense.weight", [intermediate, h]),
                intermediateBias: try t(p + "intermediate.dense.bias", [intermediate]),
                outputWeight: try t(p + "output.dense.weight", [h, intermediate]),
                outputBias: try t(p + "output.dense.bias", [h]),
                outputNormGain: try t(p + "output.LayerNorm.weight", [h]),
                outputNormBias: try t(p + "output.LayerNorm.bias", [h])))
        }
        self.layers = layers
        self.dimension = h
        self.vocabularySize = vocabularySize
        self.heads = heads
        self.intermediateSize = intermediate
        self.maxSequenceLength = maxLength
    }
}

extension BertModel {
    /// Floating-point operations (2 per multiply-add) of encoding texts of these token counts: the
    /// projections and feed-forward products, plus attention's two products per head.
    public func flops(forTokenCounts counts: [Int]) -> Double {
        let h = Double(dimension), i = Double(intermediateSize), l = Double(layers.count)
        var total = 0.0
        for n in counts {
            let t = Double(n)
            total += 2 * l * t * (4 * h * h + 2 * h * i)   // Q, K, V, output; feed-forward in and out
            total += 2 * l * 2 * t * t * h                 // scores and context, all heads together
        }
        return total
    }
}

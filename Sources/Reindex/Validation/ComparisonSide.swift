import Embedding
import Foundation
import Operations
import VectorStore

/// One side of a comparison: a physical collection and the embedder its vectors were made with.
public struct ComparisonSide: Sendable {
    /// A label for reports (`old`, `new`, or the name given).
    public var label: String
    /// The physical collection searched.
    public var collection: String
    /// The embedder spec its vectors come from.
    public var embedderSpec: String
    let embedder: any Embedder

    public init(label: String, collection: String, embedderSpec: String) throws(OperationsError) {
        self.label = label
        self.collection = collection
        self.embedderSpec = embedderSpec
        do { embedder = try Embedders.make(spec: embedderSpec) } catch {
            throw error.operationsError("embedder '\(embedderSpec)' of \(label) side '\(collection)'")
        }
    }

    /// The top-`k` documents (chunks grouped by `doc_id`, best chunk first) for each text.
    func rankDocuments(_ texts: [String], k: Int, vectors backend: any VectorBackend) throws(OperationsError) -> [RankedDocuments] {
        guard !texts.isEmpty else { return [] }
        let queryVectors: [[Float]]
        do { queryVectors = try embedder.embedBlocking(texts) } catch { throw OperationsError(.invalidInput, "embedding queries for \(label) side failed: \(error)") }
        // Fetch more chunks than documents wanted: several chunks of one document may rank together.
        let requests = queryVectors.map { SearchRequest(vector: $0, limit: k * 4, withPayload: false) }
        let results: [[ScoredPoint]]
        do { results = try backend.searchBatch(collection, requests) } catch {
            throw OperationsError(.storage, "searching \(label) side '\(collection)' failed", cause: error.description)
        }
        return results.map { hits in
            var ranked = RankedDocuments()
            var seen = Set<Int64>()
            for h in hits {
                guard case .number(let raw) = h.id else { continue }
                let doc = Int64(raw >> PointLayout.chunkBits)
                if ranked.topScore == nil { ranked.topScore = Double(h.score) }
                if seen.insert(doc).inserted {
                    ranked.documents.append(doc)
                    ranked.chunks.append(h.id)
                }
                if ranked.documents.count == k { break }
            }
            return ranked
        }
    }
}

/// Documents in rank order for one query on one side.
struct RankedDocuments: Sendable {
    var documents: [Int64] = []
    /// Each document's best chunk, in the same order.
    var chunks: [PointID] = []
    var topScore: Double?
}

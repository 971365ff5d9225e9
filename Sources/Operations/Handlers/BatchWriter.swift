import Embedding
import Foundation
import GRDB
import SwitchyardJSON
import Telemetry
import VectorStore

/// Turns documents' chunks into points 100 at a time: embed, upsert (one durable store transaction),
/// then mark the documents whose last chunk is written `completed` with the progress (one records
/// transaction). A crash between the two leaves those documents pending; their points are
/// overwritten, not duplicated, when the operation is run again.
package struct BatchWriter {
    let context: OperationContext
    let collection: ManagedCollection
    let embedder: any Embedder
    let total: Int
    /// The physical collection written to (the serving one, or a reindex's staging collection).
    let target: String

    private var texts: [String] = []
    private var pending: [(doc: Int64, chunk: Int, of: Int, path: String)] = []
    /// Documents whose chunks are all in the buffer or written: (id, chunk count).
    private var finishing: [(Int64, Int)] = []
    package private(set) var chunksWritten = 0
    package private(set) var emptyDocuments = 0
    private var done = 0
    /// The progress last written to the operation.
    private var reported = -1
    /// When the documents not yet committed began: their time, shared by chunk count, is each one's
    /// processing time (`document_processing_duration_seconds`).
    private var segmentStart = ContinuousClock.now

    /// Records documents as done inside the batch's transaction; by default marks them `completed`
    /// with their chunk counts.
    let recordDone: @Sendable (Database, [(Int64, Int)]) throws -> Void

    /// The fault-injection point hit after each batch of points is written.
    let faultPoint: String

    package init(context: OperationContext, collection: ManagedCollection, embedder: any Embedder, total: Int, target: String? = nil,
                 initialDone: Int = 0, faultPoint: String = "ingest.batch",
                 recordDone: (@Sendable (Database, [(Int64, Int)]) throws -> Void)? = nil) {
        self.target = target ?? collection.vectorStoreName
        self.done = initialDone
        self.faultPoint = faultPoint
        self.recordDone = recordDone ?? { db, finished in
            let now = WallClock.now()
            let mark = try db.cachedStatement(sql: "UPDATE documents SET status = 'completed', chunk_count = ?, error = NULL, updated_at = ? WHERE id = ?")
            for (id, chunks) in finished { try mark.execute(arguments: [chunks, now, id]) }
        }
        self.context = context
        self.collection = collection
        self.embedder = embedder
        self.total = total
        texts.reserveCapacity(IngestHandler.batchSize)
    }

    package mutating func add(_ doc: PendingDocument, chunks: [Chunk]) throws(OperationsError) {
        if chunks.isEmpty { emptyDocuments += 1 }
        for chunk in chunks {
            texts.append(chunk.text)
            pending.append((doc.id, chunk.index, chunks.count, doc.path))
            if texts.count >= IngestHandler.batchSize { try writeBuffered(completing: []) }
        }
        finishing.append((doc.id, chunks.count))
        if finishing.count >= IngestHandler.batchSize { try writeBuffered(completing: finishing) }
    }

    /// Counts a document that was given up without writing (its status recorded by the caller) as done
    /// for progress.
    package mutating func skip() {
        done += 1
    }

    package mutating func flush() throws(OperationsError) {
        try writeBuffered(completing: finishing, final: true)
    }

    /// Writes the buffered chunks, then marks `completing` done (when the buffer held all their chunks).
    private mutating func writeBuffered(completing: [(Int64, Int)], final: Bool = false) throws(OperationsError) {
        // Documents are completed only when none of their chunks is still buffered.
        if !texts.isEmpty {
            try context.ensureActive()
            try context.faults.hit("ingest.embed")
            let vectors = try context.timed("embed") { () throws(OperationsError) in try embed(texts) }
            try context.ensureActive()
            let target = self.target
            var points: [Point] = []
            points.reserveCapacity(vectors.count)
            for (i, p) in pending.enumerated() {
                points.append(Point(id: PointLayout.pointID(documentID: p.doc, chunkIndex: p.chunk), vector: vectors[i],
                                    payload: PointLayout.payload(collectionID: collection.id, generation: target, documentID: p.doc, chunkIndex: p.chunk,
                                                                 totalChunks: p.of, path: p.path, text: texts[i])))
            }
            let backend = context.manager.vectors
            let fence = context.fence
            try context.faults.hit("ingest.upsert")
            try context.timed("upsert") { () throws(OperationsError) in
                _ = try CollectionManager.guarded("writing \(points.count) points to '\(target)'") {
                    if let fence { return try backend.upsert(target, points: points, precondition: fence) }
                    return try backend.upsert(target, points: points)
                }
            }
            chunksWritten += points.count
            context.count(vectors: points.count)
            texts.removeAll(keepingCapacity: true)
            pending.removeAll(keepingCapacity: true)
            try context.faults.hit(faultPoint)
        }
        // Also when only skipped documents moved the count: the final progress always reaches the total.
        guard !completing.isEmpty || (final && done != reported) else { return }
        let op = context.operation
        let finished = completing
        done += finished.count
        let progress = done
        let total = total
        try context.timed("commit") { () throws(OperationsError) in
            try context.manager.fenced("marking \(finished.count) documents done", operationID: op.id, taskID: context.taskID) { db in
                try recordDone(db, finished)
                try db.execute(sql: "UPDATE operations SET progress_done = ?, progress_total = ? WHERE id = ?", arguments: [progress, total, op.id])
            }
        }
        context.count(documents: finished.count)
        recordDocumentDurations(finished)
        reported = progress
        finishing.removeAll(keepingCapacity: true)
    }

    /// Shares the time since the last commit among the documents it completed, by chunk count (an empty
    /// document counts as one chunk's worth: it was read and chunked too).
    private mutating func recordDocumentDurations(_ finished: [(Int64, Int)]) {
        let now = ContinuousClock.now
        let elapsed = (now - segmentStart).seconds
        segmentStart = now
        let weight = finished.reduce(0) { $0 + max(1, $1.1) }
        guard weight > 0 else { return }
        let type = context.operation.type.rawValue, collectionID = collection.id
        for (_, chunks) in finished {
            context.telemetry.documentProcessed(type: type, collectionID: collectionID, seconds: elapsed * Double(max(1, chunks)) / Double(weight))
        }
    }

    private func embed(_ texts: [String]) throws(OperationsError) -> [[Float]] {
        do {
            return try embedder.embedBlocking(texts)
        } catch {
            throw CollectionManager.classify(error, doing: "embedding \(texts.count) chunks with \(embedder.identifier)")
        }
    }
}

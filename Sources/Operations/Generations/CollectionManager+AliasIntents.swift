import Foundation
import GRDB
import Logging
import SwitchyardJSON
import VectorMath
import VectorStore

/// An alias change that spans the records and the vector backend (a remote Qdrant cannot share a SQLite
/// transaction): recorded first, then applied to the backend, then committed with the records, in three
/// steps. Whoever finds one left behind (the next attempt of its operation, or housekeeping) reads the
/// alias on the backend and finishes or undoes it (docs/reindex.md, "The switch across two systems").
public struct AliasIntent: Sendable, Equatable {
    public enum Kind: String, Sendable {
        /// A reindex moves the alias to its staging collection.
        case `switch`
        /// A rollback moves the alias back to the newest kept generation.
        case rollback
        /// Cleanup drops a retired generation (no alias moves; the intent keeps a rollback away from it).
        case drop
    }
    public var id: Int64
    public var kind: Kind
    public var collectionID: String
    /// The managed collection's name (its alias); "" for a drop.
    public var alias: String
    /// The physical collection the alias pointed at before (nil for a drop).
    public var from: String?
    /// The physical collection the alias points at after (for a drop: the collection dropped).
    public var to: String
    public var operationID: String?
    public var details: [String: JSONValue]
    public var createdAt: Date

    init(row: Row) {
        id = row["id"]
        kind = Kind(rawValue: row["kind"]) ?? .drop
        collectionID = row["collection_id"]
        alias = row["alias"]
        from = row["from_collection"]
        to = row["to_collection"]
        operationID = row["operation_id"]
        details = (row["details"] as String?).flatMap { try? JSONParser.parse($0).objectValue } ?? [:]
        createdAt = Date(timeIntervalSince1970: row["created_at"])
    }
}

/// What a reindex's switch commits: the new generation's configuration and the operation's checkpoint after it.
public struct SwitchPlan: Sendable {
    public var staging: String
    public var embedder: String
    public var dimension: Int
    public var chunkSize: Int
    public var chunkOverlap: Int
    public var distance: Distance
    /// The validation report, kept with the new generation.
    public var validation: JSONValue?
    /// The operation's checkpoint once switched (written in the commit's transaction).
    public var checkpoint: [String: JSONValue]

    public init(staging: String, embedder: String, dimension: Int, chunkSize: Int, chunkOverlap: Int, distance: Distance,
                validation: JSONValue?, checkpoint: [String: JSONValue]) {
        self.staging = staging
        self.embedder = embedder
        self.dimension = dimension
        self.chunkSize = chunkSize
        self.chunkOverlap = chunkOverlap
        self.distance = distance
        self.validation = validation
        self.checkpoint = checkpoint
    }

    var json: JSONValue {
        ["staging": .string(staging), "embedder": .string(embedder), "dimension": .int(Int64(dimension)),
         "chunk_size": .int(Int64(chunkSize)), "chunk_overlap": .int(Int64(chunkOverlap)), "distance": .string(distance.rawValue),
         "validation": validation ?? .null, "checkpoint": .object(checkpoint)]
    }

    init?(_ o: [String: JSONValue]) {
        guard let staging = o["staging"]?.stringValue, let embedder = o["embedder"]?.stringValue,
              let dimension = o["dimension"]?.numberValue, let size = o["chunk_size"]?.numberValue,
              let overlap = o["chunk_overlap"]?.numberValue, let d = o["distance"]?.stringValue, let distance = Distance(rawValue: d)
        else { return nil }
        self.init(staging: staging, embedder: embedder, dimension: Int(dimension), chunkSize: Int(size), chunkOverlap: Int(overlap),
                  distance: distance, validation: o["validation"].flatMap { $0 == .null ? nil : $0 },
                  checkpoint: o["checkpoint"]?.objectValue ?? [:])
    }
}

extension CollectionManager {
    // MARK: - Reading intents

    /// Every recorded intent, oldest first.
    public func aliasIntents() throws(OperationsError) -> [AliasIntent] {
        try read("listing alias intents") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM alias_intents ORDER BY id").map(AliasIntent.init(row:))
        }
    }

    /// The switch intent a reindex recorded, if it is still there.
    public func switchIntent(operationID: String) throws(OperationsError) -> AliasIntent? {
        try read("reading the switch intent of \(operationID)") { db in
            try Row.fetchOne(db, sql: "SELECT * FROM alias_intents WHERE kind = 'switch' AND operation_id = ?", arguments: [operationID])
                .map(AliasIntent.init(row:))
        }
    }

    /// Removes an intent that was undone (the alias is where it was before).
    public func discardIntent(_ intent: AliasIntent, reason: String, user: String) throws(OperationsError) {
        try write("discarding alias intent \(intent.id)") { db in
            guard try Row.fetchOne(db, sql: "SELECT 1 FROM alias_intents WHERE id = ?", arguments: [intent.id]) != nil else { return }
            try db.execute(sql: "DELETE FROM alias_intents WHERE id = ?", arguments: [intent.id])
            try Self.auditIntent(db, intent, user: user, outcome: "undone", reason: reason)
        }
    }

    static func auditIntent(_ db: Database, _ intent: AliasIntent, user: String, outcome: String, reason: String) throws {
        guard let name = try String.fetchOne(db, sql: "SELECT name FROM collections WHERE id = ?", arguments: [intent.collectionID])
                ?? String.fetchOne(db, sql: "SELECT collection_name FROM operations WHERE collection_id = ? ORDER BY seq DESC LIMIT 1",
                                   arguments: [intent.collectionID]) else { return }
        try audit(db, collectionID: intent.collectionID, collectionName: name, operationID: intent.operationID, user: user,
                  action: .aliasIntentRecovered, details: [
                      "kind": .string(intent.kind.rawValue), "alias": .string(intent.alias), "from": intent.from.map { .string($0) } ?? .null,
                      "to": .string(intent.to), "outcome": .string(outcome), "reason": .string(reason),
                  ])
    }

    // MARK: - Switch (a reindex)

    /// Step 1 of a reindex's switch: records the intent to move the collection's alias to `plan.staging`, fenced
    /// by the attempt. A repeated call by a later attempt of the same operation returns the intent already recorded.
    ///
    /// - Throws: ``OperationsError`` `leaseLost` (the attempt no longer owns the operation), `conflict` (another
    ///   alias change of this collection is in progress).
    public func recordSwitchIntent(_ plan: SwitchPlan, collection c: ManagedCollection, operationID: String,
                                   taskID: String) throws(OperationsError) -> AliasIntent {
        try fenced("recording the switch of '\(c.name)' to '\(plan.staging)'", operationID: operationID, taskID: taskID) { db in
            if let row = try Row.fetchOne(db, sql: "SELECT * FROM alias_intents WHERE kind = 'switch' AND operation_id = ?", arguments: [operationID]) {
                return AliasIntent(row: row)
            }
            if let other = try Row.fetchOne(db, sql: "SELECT * FROM alias_intents WHERE collection_id = ? AND kind IN ('switch', 'rollback')",
                                            arguments: [c.id]).map(AliasIntent.init(row:)) {
                throw OperationsError(.conflict, "collection '\(c.name)' has an unfinished \(other.kind.rawValue) to '\(other.to)' (intent \(other.id)); recovery finishes or undoes it first")
            }
            try db.execute(sql: """
                INSERT INTO alias_intents (kind, collection_id, alias, from_collection, to_collection, operation_id, details, created_at)
                VALUES ('switch', ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [c.id, c.name, c.vectorStoreName, plan.staging, operationID, Self.withOwner(plan.json).jsonText, WallClock.now()])
            return AliasIntent(row: try Row.fetchOne(db, sql: "SELECT * FROM alias_intents WHERE id = ?", arguments: [db.lastInsertedRowID])!)
        }
    }

    /// Step 3 of a reindex's switch, after the alias moved on the backend: the collection's record, the documents'
    /// chunk counts, the generations, the audit rows and the checkpoint, in one transaction fenced by the attempt;
    /// the intent goes in the same transaction.
    ///
    /// - Returns: `false` when the intent was already committed (nothing to do).
    /// - Throws: ``OperationsError`` `leaseLost`; `conflict` when the intent is gone and the switch never committed.
    @discardableResult
    public func commitSwitch(_ intent: AliasIntent, taskID: String, user: String) throws(OperationsError) -> Bool {
        guard let plan = SwitchPlan(intent.details), let opID = intent.operationID else {
            throw OperationsError(.storage, "switch intent \(intent.id) is malformed")
        }
        return try fenced("switching '\(intent.alias)' to '\(plan.staging)'", operationID: opID, taskID: taskID) { db in
            let c = try Self.collection(db, id: intent.collectionID)
            guard try Row.fetchOne(db, sql: "SELECT 1 FROM alias_intents WHERE id = ?", arguments: [intent.id]) != nil else {
                if c.vectorStoreName == plan.staging { return false }
                throw OperationsError(.conflict, "the switch of '\(c.name)' to '\(plan.staging)' was undone by recovery before it committed")
            }
            let now = WallClock.now()
            // With the chunking unchanged every document keeps its chunk count: nothing per document to do, and the
            // commit stays a handful of row writes whatever the collection's size. Otherwise the retiring
            // generation's counts are kept (for a rollback) and the new ones set.
            let rechunked = plan.chunkSize != c.chunkSize || plan.chunkOverlap != c.chunkOverlap
            let snapshot = rechunked ? try Self.chunkCounts(db, collectionID: c.id) : nil
            try Self.insertServing(db, c)
            try db.execute(sql: """
                UPDATE collection_generations SET status = 'kept', retired_at = ?, chunk_counts = ? WHERE vector_store_name = ?
                """, arguments: [now, snapshot, c.vectorStoreName])
            try db.execute(sql: """
                INSERT OR REPLACE INTO collection_generations (vector_store_name, collection_id, embedder, dimension, chunk_size, chunk_overlap,
                    distance, status, operation_id, validation, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'serving', ?, ?, ?)
                """, arguments: [plan.staging, c.id, plan.embedder, plan.dimension, plan.chunkSize, plan.chunkOverlap, plan.distance.rawValue,
                                 opID, plan.validation?.jsonText, now])
            if rechunked {
                try db.execute(sql: """
                    UPDATE documents SET chunk_count = p.chunk_count FROM reindex_progress p
                    WHERE p.operation_id = ? AND p.document_id = documents.id AND documents.collection_id = ? AND documents.status = 'completed'
                    """, arguments: [opID, c.id])
            }
            try db.execute(sql: """
                UPDATE collections SET vector_store_name = ?, embedder = ?, dimension = ?, chunk_size = ?, chunk_overlap = ?, distance = ?,
                    status = 'ready', status_message = NULL, updated_at = ? WHERE id = ?
                """, arguments: [plan.staging, plan.embedder, plan.dimension, plan.chunkSize, plan.chunkOverlap, plan.distance.rawValue, now, c.id])
            if rechunked { try PointLayout.recount(db, collectionID: c.id) }
            try Self.audit(db, collection: c, operationID: opID, user: user, action: .aliasSwitched, details: [
                "alias": .string(c.name), "from": .string(c.vectorStoreName), "to": .string(plan.staging),
            ])
            try Self.audit(db, collection: c, operationID: opID, user: user, action: .collectionReindexed, details: [
                "from": .string(c.vectorStoreName), "to": .string(plan.staging),
                "embedder": .string("\(c.embedder) -> \(plan.embedder)"),
                "chunking": .string("\(c.chunkSize)/\(c.chunkOverlap) -> \(plan.chunkSize)/\(plan.chunkOverlap)"),
                "validation_passed": .bool(true),
            ])
            try db.execute(sql: "UPDATE operations SET checkpoint = ? WHERE id = ?", arguments: [JSONValue.object(plan.checkpoint).jsonText, opID])
            try db.execute(sql: "DELETE FROM alias_intents WHERE id = ?", arguments: [intent.id])
            return true
        }
    }

    // MARK: - Rollback

    /// Step 1 of a rollback: checks that the newest kept generation can serve again (no active operation, no
    /// document changed since it served) and records the intent to move the alias back to it.
    ///
    /// - Returns: The intent and the generation it moves to.
    /// - Throws: ``OperationsError`` `notFound` (no kept generation), `conflict` (an operation is active, documents
    ///   changed, or another alias change of the collection is in progress).
    public func recordRollbackIntent(_ name: String, user: String) throws(OperationsError) -> (AliasIntent, Generation) {
        try write("preparing the rollback of '\(name)'") { db in
            let c = try Self.collection(db, name: name)
            guard let row = try Row.fetchOne(db, sql: """
                SELECT * FROM collection_generations WHERE collection_id = ? AND status = 'kept' ORDER BY retired_at DESC LIMIT 1
                """, arguments: [c.id]) else {
                throw OperationsError(.notFound, "collection '\(name)' has no kept generation to roll back to")
            }
            let target = Generation(row: row)
            if let active = try String.fetchOne(db, sql: "SELECT id FROM operations WHERE collection_id = ? AND status IN ('pending', 'processing')",
                                                arguments: [c.id]) {
                throw OperationsError(.conflict, "collection '\(name)' has an active operation \(active); wait for it or cancel it before a rollback")
            }
            if let other = try Row.fetchOne(db, sql: "SELECT * FROM alias_intents WHERE (collection_id = ? AND kind IN ('switch', 'rollback')) OR (kind = 'drop' AND to_collection = ?)",
                                            arguments: [c.id, target.vectorStoreName]).map(AliasIntent.init(row:)) {
                throw OperationsError(.conflict, "collection '\(name)' has an unfinished \(other.kind.rawValue) of '\(other.to)' (intent \(other.id)); try again once recovery has finished or undone it")
            }
            // Chunk counts are kept only when that generation's chunking differs from its successor's.
            let counts = (row["chunk_counts"] as String?).flatMap { try? JSONParser.parse($0).objectValue }
            let rechunked = target.chunkSize != c.chunkSize || target.chunkOverlap != c.chunkOverlap
            let changed = try Bool.fetchOne(db, sql: """
                SELECT EXISTS (SELECT 1 FROM documents WHERE collection_id = ? AND updated_at > ?)
                """, arguments: [c.id, target.retiredAt?.timeIntervalSince1970 ?? 0]) ?? true
            let live = rechunked
                ? try Int64.fetchAll(db, sql: "SELECT id FROM documents WHERE collection_id = ? AND status = 'completed'", arguments: [c.id]) : []
            if changed || (rechunked && (counts.map { Set(live.map(String.init)) != Set($0.keys) } ?? true)) {
                throw OperationsError(.conflict, "documents of '\(name)' changed since '\(target.vectorStoreName)' served; a rollback would lose them — reindex instead")
            }
            try db.execute(sql: """
                INSERT INTO alias_intents (kind, collection_id, alias, from_collection, to_collection, operation_id, details, created_at)
                VALUES ('rollback', ?, ?, ?, ?, NULL, ?, ?)
                """, arguments: [c.id, c.name, c.vectorStoreName, target.vectorStoreName,
                                 Self.withOwner(["user": .string(user)]).jsonText, WallClock.now()])
            let intent = AliasIntent(row: try Row.fetchOne(db, sql: "SELECT * FROM alias_intents WHERE id = ?", arguments: [db.lastInsertedRowID])!)
            return (intent, target)
        }
    }

    /// Step 3 of a rollback, after the alias moved back on the backend: the collection's record (embedder,
    /// chunking, counts), the generations and the audit row (`reindex_rolled_back`), and the intent removed.
    /// The generation that was serving is kept in turn (a rollback can be undone by another one).
    ///
    /// - Returns: `false` when it was committed already (by recovery).
    /// - Throws: ``OperationsError`` `conflict` when the intent was undone by recovery.
    @discardableResult
    public func commitRollback(_ intent: AliasIntent) throws(OperationsError) -> Bool {
        let user = intent.details["user"]?.stringValue ?? CollectionSpec.defaultOwner
        return try write("rolling back '\(intent.alias)'") { db in
            let current = try Self.collection(db, id: intent.collectionID)
            guard try Row.fetchOne(db, sql: "SELECT 1 FROM alias_intents WHERE id = ?", arguments: [intent.id]) != nil else {
                if current.vectorStoreName == intent.to { return false }
                throw OperationsError(.conflict, "the rollback of '\(intent.alias)' was undone by recovery before it committed; run it again")
            }
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM collection_generations WHERE vector_store_name = ?", arguments: [intent.to]),
                  current.vectorStoreName == intent.from else {
                throw OperationsError(.conflict, "the generations of '\(intent.alias)' changed while the rollback was applied")
            }
            let target = Generation(row: row)
            let counts = (row["chunk_counts"] as String?).flatMap { try? JSONParser.parse($0).objectValue }
            let rechunked = target.chunkSize != current.chunkSize || target.chunkOverlap != current.chunkOverlap
            let now = WallClock.now()
            var snapshot: String?
            if rechunked {
                snapshot = try Self.chunkCounts(db, collectionID: current.id)
                let update = try db.cachedStatement(sql: "UPDATE documents SET chunk_count = ? WHERE id = ?")
                for (id, n) in counts ?? [:] { try update.execute(arguments: [Int(n.numberValue ?? 0), Int64(id) ?? -1]) }
            }
            try db.execute(sql: """
                UPDATE collection_generations SET status = 'kept', retired_at = ?, chunk_counts = ? WHERE vector_store_name = ?
                """, arguments: [now, snapshot, current.vectorStoreName])
            try db.execute(sql: "UPDATE collection_generations SET status = 'serving', retired_at = NULL, chunk_counts = NULL WHERE vector_store_name = ?",
                           arguments: [target.vectorStoreName])
            try db.execute(sql: """
                UPDATE collections SET vector_store_name = ?, embedder = ?, dimension = ?, chunk_size = ?, chunk_overlap = ?, distance = ?,
                    status = 'ready', status_message = ?, updated_at = ? WHERE id = ?
                """, arguments: [target.vectorStoreName, target.embedder, target.dimension, target.chunkSize, target.chunkOverlap, target.distance,
                                 "rolled back from \(current.vectorStoreName)", now, current.id])
            if rechunked { try PointLayout.recount(db, collectionID: current.id) }  // else every count is unchanged
            try Self.audit(db, collection: current, operationID: nil, user: user, action: .reindexRolledBack, details: [
                "from": .string(current.vectorStoreName), "to": .string(target.vectorStoreName), "embedder": .string(target.embedder),
            ])
            try db.execute(sql: "DELETE FROM alias_intents WHERE id = ?", arguments: [intent.id])
            return true
        }
    }

    // MARK: - Drop of a retired generation

    /// Step 1 of dropping a retired generation: records the intent unless the generation is no longer `kept`
    /// or an alias change (a rollback to it) is in progress.
    ///
    /// - Returns: The intent, or `nil` with the reason it must not be dropped now.
    public func recordDropIntent(_ physical: String, collectionID: String) throws(OperationsError) -> (AliasIntent?, String?) {
        try write("preparing the drop of \(physical)") { db in
            if let existing = try Row.fetchOne(db, sql: "SELECT * FROM alias_intents WHERE kind = 'drop' AND to_collection = ?",
                                               arguments: [physical]) {
                return (AliasIntent(row: existing), nil)
            }
            guard try Row.fetchOne(db, sql: "SELECT 1 FROM collection_generations WHERE vector_store_name = ? AND status = 'kept'",
                                   arguments: [physical]) != nil else { return (nil, "it is no longer a kept generation") }
            if try Row.fetchOne(db, sql: "SELECT 1 FROM alias_intents WHERE kind <> 'drop' AND (to_collection = ? OR from_collection = ?)",
                                arguments: [physical, physical]) != nil {
                return (nil, "an alias change involving it is in progress")
            }
            try db.execute(sql: """
                INSERT INTO alias_intents (kind, collection_id, alias, from_collection, to_collection, operation_id, details, created_at)
                VALUES ('drop', ?, '', NULL, ?, NULL, ?, ?)
                """, arguments: [collectionID, physical, Self.withOwner([:]).jsonText, WallClock.now()])
            return (AliasIntent(row: try Row.fetchOne(db, sql: "SELECT * FROM alias_intents WHERE id = ?", arguments: [db.lastInsertedRowID])!), nil)
        }
    }

    /// Step 3 of a drop, once the collection is gone from the backend: the generation is recorded dropped and the intent removed.
    public func commitDrop(_ intent: AliasIntent) throws(OperationsError) {
        try write("recording the drop of \(intent.to)") { db in
            try db.execute(sql: "UPDATE collection_generations SET status = 'dropped', dropped_at = ?, chunk_counts = NULL WHERE vector_store_name = ? AND status = 'kept'",
                           arguments: [WallClock.now(), intent.to])
            try db.execute(sql: "DELETE FROM alias_intents WHERE id = ?", arguments: [intent.id])
        }
    }

    // MARK: - Owners

    /// `details` with the process making the change (host and pid), so recovery can tell a change whose
    /// process is gone from one still running.
    static func withOwner(_ details: JSONValue) -> JSONValue {
        var o = details.objectValue ?? [:]
        o["owner"] = ["host": .string(ProcessOwner.host), "pid": .int(Int64(getpid()))]
        return .object(o)
    }

    /// Whether the process that recorded `intent` is certainly gone (same host, no such process); `false` when
    /// it may still run (alive, this process, another host, or not recorded).
    static func ownerIsGone(_ intent: AliasIntent) -> Bool {
        guard let o = intent.details["owner"]?.objectValue, o["host"]?.stringValue == ProcessOwner.host,
              let pid = o["pid"]?.numberValue.map({ pid_t($0) }), pid > 0, pid != getpid() else { return false }
        return kill(pid, 0) != 0 && errno == ESRCH
    }

    // MARK: - Recovery

    /// Where the backend's alias `alias` points now (`nil`: no such alias).
    public func aliasTarget(_ alias: String) throws(OperationsError) -> String? {
        try Self.guarded("reading alias '\(alias)'") { try vectors.aliases().first { $0.alias == alias }?.collection }
    }

    /// How long after it began an alias change left behind may be resolved although its process may still run:
    /// twice the backend's longest call (retries included) and 5 s, so the change's own alias batch is over.
    public var intentSafeAge: Double { 2 * vectors.longestCallSeconds + 5 }

    /// What recovery did with an intent.
    public enum IntentOutcome: String, Sendable {
        /// The change was completed (its alias had moved).
        case finished
        /// The change was undone (the alias is, or was put back, where it was before).
        case undone
        /// Left alone: its process may still run, or its operation is active.
        case left
    }

    /// Finishes or undoes intents of this backend's collections left behind by a crash or an unreachable backend:
    /// those whose process is gone, or older than `minimumAge` seconds (default ``intentSafeAge``); a younger one
    /// may still be running. For each it reads the alias on the backend and
    /// - a switch whose operation is no longer pending or processing: moves the alias back if it moved, and
    ///   discards the intent (the failed reindex's staging collection is removed by housekeeping); a switch whose
    ///   operation is active is left to its next attempt;
    /// - a rollback: commits it if the alias moved, else discards it;
    /// - a drop: drops the collection unless an alias (anyone's) points at it, then commits; or discards it.
    ///
    /// A backend that cannot be reached leaves the intent for the next pass.
    /// - Returns: One line per intent resolved.
    @discardableResult
    public func recoverAliasIntents(minimumAge: Double? = nil, collectionID: String? = nil, logger: Logger) -> [String] {
        let intents: [AliasIntent]
        do {
            intents = try read("listing alias intents") { db in
                try Row.fetchAll(db, sql: """
                    SELECT * FROM alias_intents i WHERE coalesce((SELECT backend FROM collections WHERE id = i.collection_id), ?) = ? ORDER BY id
                    """, arguments: [backend, backend]).map(AliasIntent.init(row:))
            }
        } catch {
            logger.error("could not list alias intents", metadata: ["error": "\(error)"])
            return []
        }
        var done: [String] = []
        for intent in intents where collectionID == nil || intent.collectionID == collectionID {
            do {
                let outcome = try recover(intent, minimumAge: minimumAge ?? intentSafeAge)
                if outcome != .left { done.append("\(intent.kind.rawValue) \(intent.alias) -> \(intent.to): \(outcome.rawValue)") }
            } catch {
                logger.warning("an alias intent could not be resolved yet; the next pass tries again", metadata: [
                    "intent": "\(intent.id)", "kind": "\(intent.kind.rawValue)", "to": "\(intent.to)", "error": "\(error)",
                ])
            }
        }
        return done
    }

    /// Resolves one intent as ``recoverAliasIntents(minimumAge:collectionID:logger:)`` does.
    public func recover(_ intent: AliasIntent, minimumAge: Double) throws(OperationsError) -> IntentOutcome {
        let stale = Self.ownerIsGone(intent) || WallClock.now() - intent.createdAt.timeIntervalSince1970 >= minimumAge
        switch intent.kind {
        case .switch:
            if let op = intent.operationID {
                // A read that fails leaves it: undoing a live reindex's switch is the worse error.
                let status = try operation(op).status
                if status == .pending || status == .processing { return .left }
            }
            guard stale else { return .left }
            let now = try aliasTarget(intent.alias)
            if now == intent.to, let from = intent.from {
                try Self.guarded("moving alias '\(intent.alias)' back to '\(from)'") {
                    if try vectors.collectionExists(from) { try vectors.updateAliases([.create(alias: intent.alias, collection: from)]) }
                }
            }
            try discardIntent(intent, reason: now == intent.to ? "the reindex ended before its switch committed; alias moved back"
                                : "the reindex ended before its switch", user: "recovery")
            return .undone
        case .rollback:
            guard stale else { return .left }
            let now = try aliasTarget(intent.alias)
            if now == intent.to {
                try write("auditing recovery") { db in try Self.auditIntent(db, intent, user: "recovery", outcome: "finished", reason: "the alias had moved") }
                try commitRollback(intent)
                return .finished
            }
            try discardIntent(intent, reason: now == intent.from ? "the alias never moved" : "the alias points elsewhere (\(now ?? "nowhere"))",
                              user: "recovery")
            return .undone
        case .drop:
            guard stale else { return .left }
            let exists = try Self.guarded("checking \(intent.to)") { try vectors.collectionExists(intent.to) }
            if exists {
                let pointing = try Self.guarded("reading aliases") { try vectors.aliases().filter { $0.collection == intent.to }.map(\.alias) }
                if !pointing.isEmpty {
                    try discardIntent(intent, reason: "aliases point at it: \(pointing.joined(separator: ", "))", user: "recovery")
                    return .undone
                }
                try Self.guarded("dropping \(intent.to)") { try vectors.dropCollection(intent.to) }
            }
            try commitDrop(intent)
            return .finished
        }
    }
}

/// This process's host name, for the owners of alias intents.
enum ProcessOwner {
    static let host: String = {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "unknown" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()
}

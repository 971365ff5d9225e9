import SwitchyardJSON

/// The six checkpoints, in order.
public enum ReindexStage: String, Sendable, CaseIterable, Comparable {
    case preflight, staging, reprocessing, validation, `switch`, cleanup

    var index: Int { Self.allCases.firstIndex(of: self)! }
    public static func < (a: Self, b: Self) -> Bool { a.index < b.index }
}

/// Where a reindex stands, stored as the operation's `checkpoint` (JSON) and rewritten (fenced) at
/// every boundary: the last stage finished, the staging collection's name (recorded before it is
/// created), the reservation, the collection it replaces, and what validation and the switch found.
struct ReindexCheckpoint: Sendable {
    var stage: ReindexStage?
    var staging: String?
    var reservation: String?
    var old: String?
    var failedDocuments = 0
    var validation: JSONValue?
    var switchMilliseconds: Double?
    var aliasFlipMilliseconds: Double?

    init() {}

    init(_ object: [String: JSONValue]?) {
        guard let o = object else { return }
        stage = o["stage"]?.stringValue.flatMap(ReindexStage.init(rawValue:))
        staging = o["staging"]?.stringValue
        reservation = o["reservation"]?.stringValue
        old = o["old"]?.stringValue
        failedDocuments = Int(o["failed_documents"]?.numberValue ?? 0)
        validation = o["validation"]
        switchMilliseconds = o["switch_ms"]?.numberValue
        aliasFlipMilliseconds = o["alias_flip_ms"]?.numberValue
    }

    var json: [String: JSONValue] {
        var o: [String: JSONValue] = ["failed_documents": .int(Int64(failedDocuments))]
        if let stage { o["stage"] = .string(stage.rawValue) }
        if let staging { o["staging"] = .string(staging) }
        if let reservation { o["reservation"] = .string(reservation) }
        if let old { o["old"] = .string(old) }
        if let validation { o["validation"] = validation }
        if let switchMilliseconds { o["switch_ms"] = .double(switchMilliseconds) }
        if let aliasFlipMilliseconds { o["alias_flip_ms"] = .double(aliasFlipMilliseconds) }
        return o
    }
}

/// The reindex's requested configuration (from the operation's config).
struct ReindexTarget: Sendable {
    var embedder: String
    var chunkSize: Int
    var chunkOverlap: Int
    var distance: String
    var queries: String?
    var qrels: String?
    var report: String?
    var thresholds: [String: Double]

    init(_ c: [String: JSONValue]) {
        embedder = c["embedder"]?.stringValue ?? ""
        chunkSize = Int(c["chunk_size"]?.numberValue ?? 600)
        chunkOverlap = Int(c["chunk_overlap"]?.numberValue ?? 200)
        distance = c["distance"]?.stringValue ?? "Cosine"
        queries = c["queries"]?.stringValue
        qrels = c["qrels"]?.stringValue
        report = c["report"]?.stringValue
        var t: [String: Double] = [:]
        for (k, v) in c["thresholds"]?.objectValue ?? [:] { if let d = v.numberValue { t[k] = d } }
        thresholds = t
    }
}

/// A query of a BEIR dataset (`queries.jsonl`: `_id`, `text`).
public struct BEIRQuery: Sendable, Equatable {
    /// The query's id, as the qrels name it.
    public var id: String
    /// The query text.
    public var text: String

    /// Creates a query.
    public init(id: String, text: String) {
        self.id = id
        self.text = text
    }
}

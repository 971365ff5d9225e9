import SwitchyardJSON
import VectorStore

/// An error answered in Qdrant's envelope: `{"status": {"error": message}, "time": …}` with an HTTP status.
///
/// Messages follow Qdrant's prefixes: `Wrong input: …` (400, or 409 for a name that exists), `Not found: …`
/// (404), `Bad request: …` (400), `Format error in JSON body: …` (400), `Validation error in JSON body: …`
/// (422), `Service internal error: …` (500).
public struct APIError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: Int
    public var message: String

    public init(status: Int, _ message: String) {
        self.status = status
        self.message = message
    }

    public var description: String { "\(status) \(message)" }

    static func wrongInput(_ m: String) -> APIError { APIError(status: 400, "Wrong input: \(m)") }
    package static func badRequest(_ m: String) -> APIError { APIError(status: 400, "Bad request: \(m)") }
    package static func format(_ m: String) -> APIError { APIError(status: 400, "Format error in JSON body: \(m)") }
    static func validation(_ m: String) -> APIError { APIError(status: 422, "Validation error in JSON body: \(m)") }
    static func notFound(_ m: String) -> APIError { APIError(status: 404, "Not found: \(m)") }
    static func collectionNotFound(_ name: String) -> APIError { notFound("Collection `\(name)` doesn't exist!") }
    static func unsupported(_ feature: String) -> APIError {
        APIError(status: 400, "Wrong input: \(feature) is not supported by Switchyard (see docs/server.md)")
    }

    /// A store error as Qdrant would answer it.
    static func from(_ e: StoreError) -> APIError {
        switch e.code {
        case .invalidArgument, .invalidFile: return wrongInput(e.message)
        case .notFound: return notFound(e.message)
        case .alreadyExists: return APIError(status: 409, "Wrong input: \(e.message)")
        case .busy: return APIError(status: 503, "Service internal error: the store is busy, retry: \(e.message)")
        case .preconditionFailed: return APIError(status: 409, "Wrong input: \(e.message); retry")
        case .storage, .io, .constraint: return APIError(status: 500, "Service internal error: \(e.message)")
        }
    }

    /// The envelope's body (without `time`, which the server adds).
    var json: JSONValue { ["status": ["error": .string(message)]] }
}

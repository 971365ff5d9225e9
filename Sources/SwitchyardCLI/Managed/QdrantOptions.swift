import ArgumentParser
import Foundation
import QdrantBackend
import Switchyard
import SwitchyardJSON

/// Where a managed command's vectors live: the embedded store (default) or a Qdrant server over its REST API.
/// The records (queue, documents, audit, metrics) stay in `--store` either way.
struct QdrantOptions: ParsableArguments {
    @Option(help: "Keep the vectors in the Qdrant server at this URL (http:// or https://) instead of the store (default: $SWITCHYARD_QDRANT_URL).")
    var qdrantURL: String?
    @Option(help: "The Qdrant API key (default: $SWITCHYARD_QDRANT_API_KEY).") var qdrantApiKey: String?
    @Option(help: "Seconds a Qdrant request may take before it is retried.") var qdrantTimeout: Double = 30
    @Option(help: "Retries of a Qdrant request after a transient failure (no connection, a timeout, 429, 502, 503, 504), with exponential backoff and jitter.")
    var qdrantRetries: Int = 5
    @Option(help: "PEM file of certificate authorities to trust for an https:// Qdrant (default: the system's).") var qdrantCaFile: String?
    @Option(help: "JSON passed through when Qdrant collections are created: hnsw_config, optimizers_config, quantization_config, on_disk (inline or @file).")
    var qdrantCollectionOptions: String?

    private static func environment(_ name: String) -> String? {
        ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The URL given on the command line or in the environment.
    var url: String? { qdrantURL ?? Self.environment("SWITCHYARD_QDRANT_URL") }

    func validate() throws {
        guard url != nil else {
            if qdrantApiKey != nil || qdrantCaFile != nil || qdrantCollectionOptions != nil {
                throw ValidationError("--qdrant-api-key, --qdrant-ca-file and --qdrant-collection-options need --qdrant-url (or $SWITCHYARD_QDRANT_URL)")
            }
            return
        }
        guard qdrantTimeout.isFinite, qdrantTimeout > 0, qdrantTimeout <= 3600 else {
            throw ValidationError("--qdrant-timeout must be a number of seconds above 0 and at most 3600, got \(qdrantTimeout)")
        }
        guard (0...100).contains(qdrantRetries) else { throw ValidationError("--qdrant-retries must be from 0 to 100, got \(qdrantRetries)") }
        if let key = qdrantApiKey, key.isEmpty { throw ValidationError("--qdrant-api-key must not be empty") }
        do { _ = try configuration() } catch let e as StoreError { throw ValidationError(e.description) }
    }

    /// The client configuration (no connection is made).
    func configuration() throws -> QdrantBackend.Configuration? {
        guard let url else { return nil }
        var c = QdrantBackend.Configuration(url: url, apiKey: qdrantApiKey ?? Self.environment("SWITCHYARD_QDRANT_API_KEY"))
        c.timeout = .milliseconds(Int64(qdrantTimeout * 1000))
        c.connectTimeout = .milliseconds(Int64(min(qdrantTimeout, 5) * 1000))
        c.maxAttempts = qdrantRetries + 1
        c.caFile = qdrantCaFile
        if let text = qdrantCollectionOptions {
            let raw: String
            if text.hasPrefix("@") {
                do { raw = try String(contentsOfFile: String(text.dropFirst()), encoding: .utf8) } catch {
                    throw StoreError(.invalidArgument, "--qdrant-collection-options: cannot read '\(text.dropFirst())': \(fileErrorReason(error))")
                }
            } else { raw = text }
            let parsed: JSONValue
            do { parsed = try JSONParser.parse(raw) } catch { throw StoreError(.invalidArgument, "--qdrant-collection-options: malformed JSON: \(error)") }
            guard let o = parsed.objectValue else { throw StoreError(.invalidArgument, "--qdrant-collection-options must be a JSON object") }
            c.collectionOptions = o
        }
        let probe = try QdrantBackend(c)  // checks the URL and the options; no request is made
        probe.close()
        return c
    }

    /// The backend, checked to answer as a Qdrant server and to accept the key; `nil` for the embedded store.
    func backend() throws -> QdrantBackend? {
        guard let c = try configuration() else { return nil }
        let b = try QdrantBackend(c)
        // GET / answers without a key (as Qdrant's does); listing aliases checks the key too.
        do { _ = try b.serverVersion(); _ = try b.aliases() } catch {
            b.close()
            throw CLIFailure(message: "cannot use the Qdrant server at \(b.baseURL): \(error)", exitCode: error.isRuntimeFailure ? 1 : 2)
        }
        return b
    }
}

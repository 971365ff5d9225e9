import Embedding
import Foundation
import Hummingbird
import Locks
import NIOCore
import SwitchyardJSON

/// An OpenAI-compatible `POST /v1/embeddings` server for the `http:` embedder's tests, with faults that
/// the tests switch on through `POST /admin/faults`.
///
///     EmbeddingTestServer [--port 0] [--embedder minilm] [--model all-MiniLM-L6-v2] [--key SECRET]
///
/// It prints `listening on http://127.0.0.1:PORT` once bound, and exits when its standard input closes or its
/// parent process is gone. Faults (each with `times`, how many requests
/// it applies to; -1 for all):
/// - `{"status": 429, "retry_after": 1}` or `{"status": 503}`: answer with that status (and header);
/// - `{"status": 400, "message": "…"}`: a permanent refusal, with OpenAI's error body;
/// - `{"delay_ms": 3000}`: answer late;
/// - `{"trickle_ms": 1500}`: send the headers at once and the body in ten pieces over that time;
/// - `{"wrong_dimension": true}`: vectors one component short;
/// - `{"malformed": true}`: a body that is not JSON;
/// - `{"shuffle": true}`: the vectors in reverse order (their `index` still right).
/// `GET /admin/stats` answers `{"requests": N, "texts": N, "authorized": N}`.
@main
struct EmbeddingTestServer {
    struct Fault: Sendable {
        var status = 0, retryAfter: String?, message = "", delayMilliseconds = 0, trickleMilliseconds = 0
        var wrongDimension = false, malformed = false, shuffle = false
        var times = 0
    }

    struct State: Sendable {
        var faults: [Fault] = []
        var requests = 0, texts = 0, authorized = 0
    }

    struct Options: Sendable {
        var port = 0, spec = "minilm", model = "all-MiniLM-L6-v2"
        var key: String?
    }

    static func options() -> Options {
        var o = Options()
        var args = CommandLine.arguments.dropFirst().makeIterator()
        while let a = args.next() {
            switch a {
            case "--port": o.port = Int(args.next() ?? "") ?? 0
            case "--embedder": o.spec = args.next() ?? o.spec
            case "--model": o.model = args.next() ?? o.model
            case "--key": o.key = args.next()
            default:
                FileHandle.standardError.write(Data("unknown argument \(a)\n".utf8))
                exit(2)
            }
        }
        return o
    }

    static func main() async throws {
        let o = options()
        // When the test process exits, even killed, we follow: our standard input closes (unless another child
        // inherited it), or we are handed to another parent.
        let parent = getppid()
        Thread.detachNewThread {
            _ = FileHandle.standardInput.readDataToEndOfFile()
            exit(0)
        }
        Thread.detachNewThread {
            while getppid() == parent { usleep(200_000) }
            exit(0)
        }
        let (key, model, port) = (o.key, o.model, o.port)
        let embedder = try Embedders.make(spec: o.spec, threads: 1)
        let state = Locked(State())
        let router = Router()
        router.post("/v1/embeddings") { request, _ -> Response in
            let buffer = try await request.body.collect(upTo: 64 << 20)
            let body = try? JSONParser.parse(String(buffer: buffer))
            let fault: Fault? = state.withLock { s in
                s.requests += 1
                if let key, request.headers[.authorization] == "Bearer \(key)" { s.authorized += 1 }
                guard let i = s.faults.firstIndex(where: { $0.times != 0 }) else { return nil }
                if s.faults[i].times > 0 { s.faults[i].times -= 1 }
                return s.faults[i]
            }
            if let key, request.headers[.authorization] != "Bearer \(key)" {
                return json(401, #"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}"#)
            }
            if let fault, fault.delayMilliseconds > 0 { try await Task.sleep(for: .milliseconds(fault.delayMilliseconds)) }
            if let fault, fault.status != 0 {
                var r = json(fault.status, #"{"error":{"message":"\#(fault.message.isEmpty ? "injected \(fault.status)" : fault.message)","type":"test"}}"#)
                if let after = fault.retryAfter { r.headers[.retryAfter] = after }
                return r
            }
            if fault?.malformed == true { return json(200, #"{"data": [{"embedding": [0.1, 0.2"#) }
            guard let input = body?["input"], body?["model"]?.stringValue == model else {
                return json(404, #"{"error":{"message":"The model does not exist or the body lacks input","type":"invalid_request_error"}}"#)
            }
            let texts: [String] = input.arrayValue?.compactMap(\.stringValue) ?? input.stringValue.map { [$0] } ?? []
            state.withLock { $0.texts += texts.count }
            var vectors = try await embedder.embed(texts)
            if fault?.wrongDimension == true { vectors = vectors.map { Array($0.dropLast()) } }
            var items: [JSONValue] = vectors.enumerated().map { i, v in
                ["object": "embedding", "index": .int(Int64(i)), "embedding": .array(v.map { .double(Double($0)) })]
            }
            if fault?.shuffle == true { items.reverse() }
            let answer: JSONValue = [
                "object": "list", "model": .string(model), "data": .array(items),
                "usage": ["prompt_tokens": 0, "total_tokens": 0],
            ]
            if let fault, fault.trickleMilliseconds > 0 {
                // Headers at once, then the body in ten pieces spread over the delay.
                let bytes = Array(answer.jsonText.utf8)
                let piece = max(1, (bytes.count + 9) / 10), pause = fault.trickleMilliseconds / 10
                return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody { writer in
                    for start in stride(from: 0, to: bytes.count, by: piece) {
                        try await writer.write(ByteBuffer(bytes: bytes[start..<min(start + piece, bytes.count)]))
                        try await Task.sleep(for: .milliseconds(pause))
                    }
                    try await writer.finish(nil)
                })
            }
            return json(200, answer.jsonText)
        }
        router.post("/admin/faults") { request, _ -> Response in
            let buffer = try await request.body.collect(upTo: 1 << 20)
            guard let o = (try? JSONParser.parse(String(buffer: buffer)))?.objectValue else { return json(400, #"{"error":"not JSON"}"#) }
            var f = Fault()
            f.status = o["status"]?.numberValue.map { Int($0) } ?? 0
            f.retryAfter = o["retry_after"].flatMap { $0.stringValue ?? $0.numberValue.map { String(Int($0)) } }
            f.message = o["message"]?.stringValue ?? ""
            f.delayMilliseconds = o["delay_ms"]?.numberValue.map { Int($0) } ?? 0
            f.trickleMilliseconds = o["trickle_ms"]?.numberValue.map { Int($0) } ?? 0
            f.wrongDimension = o["wrong_dimension"] == .bool(true)
            f.malformed = o["malformed"] == .bool(true)
            f.shuffle = o["shuffle"] == .bool(true)
            f.times = o["times"]?.numberValue.map { Int($0) } ?? 1
            state.withLock { $0.faults.append(f) }
            return json(200, #"{"ok":true}"#)
        }
        router.delete("/admin/faults") { _, _ -> Response in
            state.withLock { $0.faults.removeAll() }
            return json(200, #"{"ok":true}"#)
        }
        router.get("/admin/stats") { _, _ -> Response in
            let s = state.withLock { $0 }
            return json(200, #"{"requests":\#(s.requests),"texts":\#(s.texts),"authorized":\#(s.authorized)}"#)
        }
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: port)),
            onServerRunning: { channel in
                FileHandle.standardOutput.write(Data("listening on http://127.0.0.1:\(channel.localAddress?.port ?? port)\n".utf8))
            })
        try await app.runService()
    }
}

private func json(_ status: Int, _ text: String) -> Response {
    Response(status: .init(code: status), headers: [.contentType: "application/json"],
             body: .init(byteBuffer: ByteBuffer(string: text)))
}

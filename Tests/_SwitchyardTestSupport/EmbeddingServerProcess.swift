import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Locks

/// A running `EmbeddingTestServer` (Tests/EmbeddingTestServer): an OpenAI-compatible embeddings server
/// on a free loopback port, with faults switched on through its admin endpoints. Killed on release.
public final class EmbeddingServerProcess: Sendable {
    /// `http://127.0.0.1:PORT/v1`, the base URL an `http:` spec names.
    public let baseURL: String
    private let root: String
    private let process: Locked<Process?>
    private let directory: TemporaryDirectory
    /// The server's standard input: it exits when this closes, so a server held for the whole test run
    /// does not outlive the test process.
    private let lifeline: Pipe

    /// The server binary: `$SWITCHYARD_EMBEDDING_SERVER_BIN`, or `EmbeddingTestServer` beside `switchyard`.
    public static var executable: String {
        if let e = ProcessInfo.processInfo.environment["SWITCHYARD_EMBEDDING_SERVER_BIN"] { return e }
        return URL(fileURLWithPath: CLI.executable).deletingLastPathComponent().appendingPathComponent("EmbeddingTestServer").path
    }

    /// Starts the server with `arguments` (`--embedder SPEC`, `--model NAME`, `--key K`) and waits until it listens.
    public init(arguments: [String]) throws {
        directory = try TemporaryDirectory(prefix: "switchyard-embedding-server")
        let out = directory.appending("out.log"), err = directory.appending("err.log")
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: err, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.executable)
        p.arguments = ["--port", "0"] + arguments
        let lifeline = Pipe()
        self.lifeline = lifeline
        p.standardInput = lifeline
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
        try CLI.launching { try p.run() }
        process = Locked(p)
        guard let port = loopbackPort(announcedIn: out, by: p) else {
            p.terminate()
            throw ServeProcessError(message: "EmbeddingTestServer did not start: \(readGrowingFile(err))")
        }
        root = "http://127.0.0.1:\(port)"
        baseURL = root + "/v1"
    }

    deinit {
        if let p = process.withLock({ $0 }), p.isRunning {
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
        }
    }

    /// A loopback port nobody listens on: bound to port 0, read back, closed.
    public static func closedPort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        return bound ? Int(UInt16(bigEndian: address.sin_port)) : 9
    }

    /// Adds a fault (`{"status": 503, "times": 2}`, … as EmbeddingTestServer describes).
    public func inject(_ json: String) throws { _ = try call("POST", "/admin/faults", json) }

    /// Removes every fault.
    public func clearFaults() throws { _ = try call("DELETE", "/admin/faults", nil) }

    /// Requests and texts received so far, and requests that carried the right key.
    public func stats() throws -> (requests: Int, texts: Int, authorized: Int) {
        let text = try call("GET", "/admin/stats", nil)
        func number(_ key: String) -> Int {
            guard let r = text.range(of: "\"\(key)\":") else { return -1 }
            return Int(text[r.upperBound...].prefix { $0.isNumber }) ?? -1
        }
        return (number("requests"), number("texts"), number("authorized"))
    }

    private func call(_ method: String, _ path: String, _ body: String?) throws -> String {
        var request = URLRequest(url: URL(string: root + path)!)
        request.httpMethod = method
        request.httpBody = body.map { Data($0.utf8) }
        request.setValue("application/json", forHTTPHeaderField: "content-type")
        let done = DispatchSemaphore(value: 0)
        let result = Locked<Result<String, any Error>?>(nil)
        URLSession.shared.dataTask(with: request) { data, _, error in
            result.withLock { $0 = error.map { .failure($0) } ?? .success(String(decoding: data ?? Data(), as: UTF8.self)) }
            done.signal()
        }.resume()
        done.wait()
        return try result.withLock { $0! }.get()
    }
}

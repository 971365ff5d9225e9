import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A minimal HTTP server for `GET /metrics` on 127.0.0.1 (Prometheus text format 0.0.4), run on its own
/// thread while a worker runs. Anything else gets 404; one request per connection; a client that sends
/// nothing or stops reading is dropped after 5 seconds and never stops the process (no SIGPIPE).
public final class MetricsHTTPServer: Sendable {
    public let port: UInt16
    private let listener: Int32

    /// Binds 127.0.0.1:`port` (0: any free port, see ``port``) and serves `body()` for `GET /metrics`.
    ///
    /// - Throws: an `NSError` (POSIX domain) when the port cannot be bound.
    public init(port: UInt16, body: @escaping @Sendable () -> String) throws {
        #if os(Linux)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw Self.error("socket") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            let e = Self.error("binding 127.0.0.1:\(port)")
            close(fd)
            throw e
        }
        var actual = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) { p in p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        self.port = UInt16(bigEndian: actual.sin_port)
        self.listener = fd
        let thread = Thread { [fd] in
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 {
                    if errno == EINTR || errno == ECONNABORTED { continue }
                    return  // the listener was closed
                }
                Self.handle(client, body: body)
            }
        }
        thread.name = "switchyard-metrics"
        thread.start()
    }

    /// Stops accepting connections.
    public func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
    }

    private static func handle(_ client: Int32, body: () -> String) {
        defer { close(client) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        // Read until the end of the headers (or 16 KiB, or the timeout).
        var request: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while request.count < 16_384 {
            let n = read(client, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            request += buffer[0..<n]
            if request.count >= 4, request.suffix(4) == [13, 10, 13, 10] { break }
            if let text = String(validating: request, as: UTF8.self), text.contains("\r\n\r\n") { break }
        }
        let text = String(decoding: request, as: UTF8.self)
        let line = text.split(separator: "\r\n", maxSplits: 1).first.map(String.init) ?? ""
        let parts = line.split(separator: " ")
        let response: String
        if parts.count >= 2, parts[0] == "GET", parts[1] == "/metrics" || parts[1].hasPrefix("/metrics?") {
            let payload = body()
            response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: \(payload.utf8.count)\r\nConnection: close\r\n\r\n" + payload
        } else {
            let payload = "not found: GET /metrics serves the metrics\n"
            response = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: \(payload.utf8.count)\r\nConnection: close\r\n\r\n" + payload
        }
        let bytes = Array(response.utf8)
        var sent = 0
        while sent < bytes.count {
            #if os(Linux)
            let flags = Int32(MSG_NOSIGNAL)
            #else
            let flags: Int32 = 0
            #endif
            let w = bytes[sent...].withUnsafeBytes { send(client, $0.baseAddress, $0.count, flags) }
            if w < 0 && errno == EINTR { continue }
            if w <= 0 { return }
            sent += w
        }
    }

    private static func error(_ what: String) -> NSError {
        let code = errno
        return NSError(domain: NSPOSIXErrorDomain, code: Int(code),
                       userInfo: [NSLocalizedDescriptionKey: "\(what): \(String(cString: strerror(code)))"])
    }
}

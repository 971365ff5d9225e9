import Foundation

/// Runs the built `switchyard` executable, as a user would.
public enum CLI {
    /// The executable: `$SWITCHYARD_BIN`, or `switchyard` next to the test bundle.
    public static var executable: String {
        if let e = ProcessInfo.processInfo.environment["SWITCHYARD_BIN"] { return e }
        var candidates: [String] = []
        let arg0 = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        candidates.append(arg0.appendingPathComponent("switchyard").path)
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("switchyard").path)
        candidates.append(Bundle.main.bundleURL.appendingPathComponent("switchyard").path)
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(root.appendingPathComponent(".build/debug/switchyard").path)
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates.last!
    }

    /// What a finished run printed and returned.
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Runs `switchyard args…` to completion.
    @discardableResult
    public static func run(_ args: [String], environment: [String: String] = [:]) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        for (k, v) in try BackendMatrix.environment(for: args) { env[k] = v }
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let (out, err) = try launching { () throws -> (Pipe, Pipe) in
            let out = Pipe(), err = Pipe()
            p.standardOutput = out
            p.standardError = err
            try p.run()
            return (out, err)
        }
        // Drain both pipes concurrently so a chatty child cannot block on a full pipe.
        let errData = LockedData()
        let t = Thread { errData.set(err.fileHandleForReading.readDataToEndOfFile()) }
        t.start()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        while !errData.isSet { usleep(1000) }
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                      stderr: String(decoding: errData.value, as: UTF8.self))
    }

    /// Starts `switchyard args…` with standard output going to `outputFile`; the caller waits or kills.
    public static func start(_ args: [String], outputFile: String, errorFile: String? = nil,
                             environment: [String: String] = [:]) throws -> Process {
        guard FileManager.default.createFile(atPath: outputFile, contents: nil) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: outputFile])
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        for (k, v) in try BackendMatrix.environment(for: args) { env[k] = v }
        for (k, v) in environment { env[k] = v }
        p.environment = env
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outputFile))
        if let errorFile {
            guard FileManager.default.createFile(atPath: errorFile, contents: nil) else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: errorFile])
            }
            p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errorFile))
        } else {
            p.standardError = FileHandle.nullDevice
        }
        try launching { try p.run() }
        return p
    }

    private static let spawning = NSLock()

    /// Runs `body` — which creates a child's pipes and starts it — while no other thread of this process starts
    /// a child. A child inherits every descriptor open at the moment it starts, and Foundation's `Process` does
    /// not close them: a child started while another thread held a fresh pipe, or the socket through which
    /// Foundation learns that a child exited, keeps that descriptor open for as long as it runs. With a
    /// long-lived child (a `serve` process) the other command's output then never ends and its exit is never
    /// noticed. Every test that starts a process goes through here.
    public static func launching<T>(_ body: () throws -> T) rethrows -> T {
        spawning.lock()
        defer { spawning.unlock() }
        return try body()
    }
}

final class LockedData: @unchecked Sendable {
    // @unchecked: every access holds `lock`.
    private let lock = NSLock()
    private var data = Data()
    private var done = false
    func set(_ d: Data) { lock.lock(); data = d; done = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return done }
    var value: Data { lock.lock(); defer { lock.unlock() }; return data }
}

/// The text of a file another process may still be writing (a log polled while the process runs), or
/// "" when it cannot be read. Read with `read(2)` until end of file: Foundation's
/// `String(contentsOfFile:)` leaks its buffers when the file grows during the read (seen under
/// LeakSanitizer with Swift 6.3.1), which would make the sanitizer runs report the toolchain's leak.
public func readGrowingFile(_ path: String) -> String {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return "" }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n <= 0 { break }
        bytes.append(contentsOf: chunk[0..<n])
    }
    return String(decoding: bytes, as: UTF8.self)
}

import Foundation
import VectorStore

/// A fresh, empty directory under the system's temporary folder, removed by ``remove()`` or when
/// the object is released.
public final class TemporaryDirectory: Sendable {
    /// The directory's absolute path.
    public let path: String

    /// Creates a new unique directory whose name starts with `prefix`.
    public init(prefix: String = "switchyard-test") throws {
        let base = FileManager.default.temporaryDirectory.path
        var template = Array("\(base)/\(prefix)-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buf in mkdtemp(buf.baseAddress!) }
        guard made != nil else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: "\(base)/\(prefix)-XXXXXX"])
        }
        path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// A path inside the directory.
    public func appending(_ component: String) -> String {
        (path as NSString).appendingPathComponent(component)
    }

    /// Removes the directory and everything in it (safe to call twice).
    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }

    deinit { remove() }
}

/// Runs `body` with a fresh temporary directory that is removed afterwards, even when `body` throws.
public func withTemporaryDirectory<T>(
    prefix: String = "switchyard-test", _ body: (TemporaryDirectory) throws -> T
) throws -> T {
    let dir = try TemporaryDirectory(prefix: prefix)
    defer { dir.remove() }
    return try body(dir)
}

/// Runs `body` with a store opened in a fresh temporary directory; the store is closed and the
/// directory removed afterwards, even when `body` throws.
public func withTemporaryStore<T>(
    options: Store.Options = Store.Options(), _ body: (Store, TemporaryDirectory) throws -> T
) throws -> T {
    try withTemporaryDirectory(prefix: "switchyard-store") { dir in
        let store = try Store.open(at: dir.path, options: options)
        defer { try? store.close() }
        return try body(store, dir)
    }
}

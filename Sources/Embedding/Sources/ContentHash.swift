import Crypto
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// SHA-256 content hashes as 64 lowercase hex digits (swift-crypto), for texts, bytes and files.
///
/// ```swift
/// ContentHash.sha256(of: "abc")
/// // "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
/// let fileHash = try ContentHash.sha256(ofFileAt: "notes/a.md")   // streamed, 1 MiB at a time
/// ```
public enum ContentHash {
    /// Bytes read per step when hashing a file.
    public static let readChunkBytes = 1 << 20

    /// The SHA-256 of the text's UTF-8 bytes.
    public static func sha256(of text: String) -> String {
        var hasher = SHA256()
        var copy = text
        copy.withUTF8 { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        return hex(hasher.finalize())
    }

    /// The SHA-256 of some bytes.
    public static func sha256(of bytes: some DataProtocol) -> String {
        hex(SHA256.hash(data: bytes))
    }

    /// The SHA-256 of a file's bytes, read in ``readChunkBytes`` pieces so the file is never whole in memory.
    ///
    /// - Parameter path: The file.
    /// - Throws: ``EmbeddingError`` (`io`) when the file cannot be opened or read.
    public static func sha256(ofFileAt path: String) throws(EmbeddingError) -> String {
        switch FileReader.read(path: path, limit: Int.max, keepBytes: false) {
        case .success(let read): return read.hash
        case .failure(let failure): throw EmbeddingError(.io, "\(path): \(failure.message)")
        }
    }

    /// Lowercase hex of a digest.
    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Reads files in ``ContentHash/readChunkBytes`` pieces with `FileHandle`, hashing as it goes.
enum FileReader {
    struct Contents {
        /// The bytes (empty unless asked to keep them).
        var bytes: Data
        /// SHA-256, 64 lowercase hex digits.
        var hash: String
        /// Bytes read.
        var count: Int
    }

    struct Failure: Error {
        var message: String
        /// An I/O failure that may pass (permissions, too many open files, a read error), not a file
        /// that is gone or holds something else.
        var isIO = false
    }

    /// What `stat` says about a path.
    enum Status: Equatable {
        case missing(String)
        case regular(size: Int)
        case directory
        case symbolicLink
        case other
    }

    /// The status of `path`; `followingLinks: false` reports a symbolic link as such.
    static func status(_ path: String, followingLinks: Bool = true) -> Status {
        var info = stat()
        let rc = followingLinks ? stat(path, &info) : lstat(path, &info)
        guard rc == 0 else { return .missing(errorText(errno)) }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return .regular(size: Int(info.st_size))
        case S_IFDIR: return .directory
        case S_IFLNK: return .symbolicLink
        default: return .other
        }
    }

    /// Reads a regular file, failing without reading past `limit` bytes.
    static func read(path: String, limit: Int, keepBytes: Bool, expectedSize: Int = 0) -> Result<Contents, Failure> {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            let code = errno
            return .failure(Failure(message: "cannot open: \(errorText(code))", isIO: code != ENOENT && code != ENOTDIR))
        }
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        var hasher = SHA256()
        var bytes = Data()
        if keepBytes { bytes.reserveCapacity(min(max(expectedSize, 0), limit)) }
        var count = 0
        while true {
            let piece: Data?
            do {
                piece = try handle.read(upToCount: ContentHash.readChunkBytes)
            } catch {
                return .failure(Failure(message: "cannot read: \(describe(error))", isIO: true))
            }
            guard let piece, !piece.isEmpty else { break }
            count += piece.count
            if count > limit {
                return .failure(Failure(message: "file grew above the limit of \(limit) bytes while being read"))
            }
            hasher.update(data: piece)
            if keepBytes { bytes.append(piece) }
        }
        return .success(Contents(bytes: bytes, hash: ContentHash.hex(hasher.finalize()), count: count))
    }

    static func errorText(_ code: Int32) -> String {
        String(cString: strerror(code))
    }

    static func describe(_ error: any Error) -> String {
        if let posix = error as? POSIXError { return errorText(posix.code.rawValue) }
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return errorText(Int32(underlying.code))
        }
        return "\(error)"
    }
}

import Foundation

/// Reads a file line by line, ``ContentHash/readChunkBytes`` at a time with `FileHandle`, so a large JSON
/// Lines file is never whole in memory. Lines end at `\n`; a `\r` before it is dropped.
enum LineReader {
    /// Where one line is in its file.
    struct Span: Equatable {
        /// 1-based line number.
        var number: Int
        /// Byte offset of the line's first byte.
        var offset: Int64
        /// Bytes up to, not including, the `\n` (a `\r` before it included).
        var length: Int
    }

    /// Calls `body` with each line's bytes and 1-based number, the last line even without a final `\n`.
    ///
    /// - Returns: A message when the file cannot be opened or read (lines before the failure were seen).
    static func forEachLine(path: String, _ body: (Data, Int) -> Void) -> String? {
        forEachLine(path: path) { (bytes: Data, span: Span) in body(bytes, span.number) }
    }

    /// Calls `body` with each line's bytes and where the line is, the last line even without a final `\n`.
    ///
    /// - Returns: A message when the file cannot be opened or read (lines before the failure were seen).
    static func forEachLine(path: String, _ body: (Data, Span) -> Void) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return "cannot open: \(FileReader.errorText(errno))" }
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        var pending = Data()
        /// File offset of `pending`'s first byte.
        var base: Int64 = 0
        var lineNumber = 0

        func emit(_ line: Data, at offset: Int64) {
            lineNumber += 1
            let span = Span(number: lineNumber, offset: offset, length: line.count)
            body(stripCarriageReturn(line), span)
        }

        while true {
            let piece: Data?
            do {
                piece = try handle.read(upToCount: ContentHash.readChunkBytes)
            } catch {
                return "cannot read: \(FileReader.describe(error))"
            }
            guard let piece, !piece.isEmpty else { break }
            pending.append(piece)
            var lineStart = pending.startIndex
            while let newline = pending[lineStart...].firstIndex(of: UInt8(ascii: "\n")) {
                emit(Data(pending[lineStart..<newline]), at: base + Int64(lineStart - pending.startIndex))
                lineStart = newline + 1
            }
            base += Int64(lineStart - pending.startIndex)
            pending = Data(pending[lineStart...])
        }
        if !pending.isEmpty { emit(pending, at: base) }
        return nil
    }

    /// Reads the line at `span` again (`\r` dropped as when it was first read).
    ///
    /// - Returns: The bytes, or a message when the file cannot be read or is shorter than it was.
    static func read(path: String, span: Span) -> Result<Data, FileReader.Failure> {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            let code = errno
            return .failure(.init(message: "cannot open: \(FileReader.errorText(code))", isIO: code != ENOENT && code != ENOTDIR))
        }
        defer { close(fd) }
        var bytes = Data(count: span.length)
        var got = 0
        while got < span.length {
            let n = bytes.withUnsafeMutableBytes { raw in
                pread(fd, raw.baseAddress! + got, span.length - got, off_t(span.offset) + off_t(got))
            }
            if n < 0 {
                if errno == EINTR { continue }
                return .failure(.init(message: "cannot read: \(FileReader.errorText(errno))", isIO: true))
            }
            if n == 0 { return .failure(.init(message: "the file is shorter than when it was scanned (line \(span.number) is gone)")) }
            got += n
        }
        return .success(stripCarriageReturn(bytes))
    }

    private static func stripCarriageReturn(_ line: Data) -> Data {
        var line = line
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        return line
    }
}

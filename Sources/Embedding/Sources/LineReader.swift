import Foundation

/// Reads a file line by line, ``ContentHash/readChunkBytes`` at a time with `FileHandle`, so a large JSON
/// Lines file is never whole in memory. Lines end at `\n`; a `\r` before it is dropped.
enum LineReader {
    /// Calls `body` with each line's bytes and 1-based number, the last line even without a final `\n`.
    ///
    /// - Returns: A message when the file cannot be opened or read (lines before the failure were seen).
    static func forEachLine(path: String, _ body: (Data, Int) -> Void) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return "cannot open: \(FileReader.errorText(errno))" }
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        var pending = Data()
        var lineNumber = 0

        func emit(_ line: Data) {
            lineNumber += 1
            var line = line
            if line.last == UInt8(ascii: "\r") { line.removeLast() }
            body(line, lineNumber)
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
                emit(Data(pending[lineStart..<newline]))
                lineStart = newline + 1
            }
            pending = Data(pending[lineStart...])
        }
        if !pending.isEmpty { emit(pending) }
        return nil
    }
}

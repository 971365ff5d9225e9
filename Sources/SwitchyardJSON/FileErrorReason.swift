import Foundation

/// Why a file operation failed, in an operator's words: the operating system's reason ("No such file
/// or directory", "Is a directory", "Permission denied") instead of Foundation's error dump.
///
/// ```swift
/// do { _ = try String(contentsOfFile: path, encoding: .utf8) } catch {
///     throw MyError("cannot read '\(path)': \(fileErrorReason(error))")
/// }
/// ```
public func fileErrorReason(_ error: any Error) -> String {
    let ns = error as NSError
    if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
        return String(cString: strerror(Int32(underlying.code)))
    }
    if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
    if ns.domain == NSCocoaErrorDomain {
        switch ns.code {
        case NSFileNoSuchFileError, NSFileReadNoSuchFileError: return "No such file or directory"
        case NSFileReadNoPermissionError, NSFileWriteNoPermissionError: return "Permission denied"
        case NSFileReadInapplicableStringEncodingError, NSFileReadCorruptFileError: return "not valid UTF-8 text"
        case NSFileWriteOutOfSpaceError: return "No space left on device"
        default: break
        }
    }
    return ns.localizedDescription
}

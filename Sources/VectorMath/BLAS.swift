import CBLAS
import CKernels
import Locks
import Synchronization

/// Facts about, and settings of, the BLAS library loaded at run time.
///
/// The package links `libblas.so.3`; which implementation answers is decided by the system
/// (Debian's alternatives pick OpenBLAS when `libopenblas0-pthread` is installed). OpenBLAS-only
/// functions are looked up with `dlsym`, since the reference BLAS lacks them.
public enum BLASRuntime {
    private typealias GetConfig = @convention(c) () -> UnsafePointer<CChar>?
    private typealias SetThreads = @convention(c) (Int32) -> Void
    private typealias GetThreads = @convention(c) () -> Int32

    private static func symbol(_ name: String) -> UnsafeMutableRawPointer? {
        sy_lookup_symbol(name)
    }

    /// OpenBLAS's configuration string (e.g. `OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64`),
    /// or `nil` when the loaded BLAS is not OpenBLAS.
    public static var openBLASConfig: String? {
        guard let p = symbol("openblas_get_config") else { return nil }
        let f = unsafeBitCast(p, to: GetConfig.self)
        return f().map { String(cString: $0) }
    }

    /// The file the `cblas_sgemm` symbol was loaded from, when the system can tell.
    public static var libraryPath: String? {
        guard let name = sy_symbol_library("cblas_sgemm") else { return nil }
        return String(cString: name)
    }

    /// A one-line name of the BLAS in use, e.g. `OpenBLAS 0.3.21 … SkylakeX` or `reference BLAS (/usr/lib/…/libblas.so.3)`.
    public static var name: String {
        if let config = openBLASConfig { return config.trimmingCharacters(in: " \n") }
        let path = libraryPath ?? "unknown library"
        return isReference ? "reference BLAS (\(path))" : "BLAS (\(path))"
    }

    /// Whether the loaded BLAS is Netlib's reference implementation (correct, but ~75× slower for batches).
    public static var isReference: Bool {
        if openBLASConfig != nil { return false }
        guard let path = libraryPath else { return false }
        return path.contains("/blas/libblas") || path.hasSuffix("/libblas.so.3")
    }

    /// Sets OpenBLAS's thread count (no effect on other BLAS libraries); returns whether it was applied.
    @discardableResult
    public static func setThreads(_ count: Int) -> Bool {
        guard let p = symbol("openblas_set_num_threads") else { return false }
        unsafeBitCast(p, to: SetThreads.self)(Int32(max(1, count)))
        return true
    }

    /// OpenBLAS's thread count, or `nil` for other libraries.
    public static var threads: Int? {
        guard let p = symbol("openblas_get_num_threads") else { return nil }
        return Int(unsafeBitCast(p, to: GetThreads.self)())
    }

    private static let configured = Locked(false)

    /// Pins OpenBLAS to one thread, once per process: Switchyard parallelises across query or row
    /// blocks itself, so BLAS threads on top would oversubscribe the cores.
    public static func configureOnce() {
        configured.withLock { done in
            guard !done else { return }
            done = true
            setThreads(1)
        }
    }

    private static let warned = Atomic<Bool>(false)

    /// The warning to show when only the reference BLAS is loaded, or `nil` when a fast BLAS is there.
    public static var slowBLASWarning: String? {
        guard isReference else { return nil }
        return "warning: the reference BLAS is loaded (\(libraryPath ?? "libblas.so.3")); batch search is about 75x slower than with OpenBLAS. Install it with: apt-get install -y libopenblas0-pthread"
    }

    /// Writes ``slowBLASWarning`` to standard error the first time it is called in this process.
    public static func warnIfSlowOnce() {
        guard let message = slowBLASWarning else { return }
        if !warned.exchange(true, ordering: .relaxed) { sy_write_stderr(message + "\n") }
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s.removeFirst() }
        while let l = s.last, set.contains(l) { s.removeLast() }
        return String(s)
    }
}

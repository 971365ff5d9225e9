#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// CPU time of the calling thread (Linux `RUSAGE_THREAD`; the process elsewhere) and the process's
/// peak resident memory.
struct CPUSample: Sendable {
    var user: Double
    var system: Double

    static func currentThread() -> CPUSample {
        var u = rusage()
        #if os(Linux)
        _ = getrusage(1 /* RUSAGE_THREAD */, &u)
        #else
        _ = getrusage(RUSAGE_SELF, &u)
        #endif
        return CPUSample(user: seconds(u.ru_utime), system: seconds(u.ru_stime))
    }

    /// The process's resident set size now, in bytes (Linux: `/proc/self/statm`; elsewhere the peak).
    static func residentBytes() -> Int {
        #if os(Linux)
        let fd = open("/proc/self/statm", O_RDONLY)
        guard fd >= 0 else { return peakMemoryBytes() }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 128)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return peakMemoryBytes() }
        // "size resident shared …" in pages.
        let fields = String(decoding: buffer[0..<n], as: UTF8.self).split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return peakMemoryBytes() }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
        #else
        return peakMemoryBytes()
        #endif
    }

    /// Peak resident set size of the process over its whole life, in bytes.
    static func peakMemoryBytes() -> Int {
        var u = rusage()
        #if os(Linux)
        _ = getrusage(0 /* RUSAGE_SELF */, &u)
        return Int(u.ru_maxrss) * 1024
        #else
        _ = getrusage(RUSAGE_SELF, &u)
        return Int(u.ru_maxrss)
        #endif
    }

    private static func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
}

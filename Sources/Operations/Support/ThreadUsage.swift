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

    /// Peak resident set size of the process, in bytes.
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

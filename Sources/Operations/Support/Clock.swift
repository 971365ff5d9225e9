import Foundation

/// Wall-clock seconds since 1970, the time unit of every stored timestamp.
enum WallClock {
    static func now() -> Double { Date().timeIntervalSince1970 }
}

extension Duration {
    /// The duration in seconds.
    var inSeconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) / 1e18
    }
}

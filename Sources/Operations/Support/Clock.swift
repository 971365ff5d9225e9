import Foundation

/// Wall-clock seconds since 1970, the time unit of every stored timestamp.
package enum WallClock {
    package static func now() -> Double { Date().timeIntervalSince1970 }
}

extension Duration {
    /// The duration in seconds.
    package var inSeconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) / 1e18
    }
}

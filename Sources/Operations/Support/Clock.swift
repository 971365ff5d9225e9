import Foundation

/// Wall-clock seconds since 1970, the time unit of every stored timestamp.
package enum WallClock {
    package static func now() -> Double { Date().timeIntervalSince1970 }
}


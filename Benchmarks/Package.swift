// swift-tools-version: 6.1
// Benchmarks (ordo-one/benchmark) in a nested package, so `swift test` at the root never builds them.
//   cd Benchmarks && swift package benchmark                      # run every suite
//   swift package benchmark --target SearchBenchmarks              # one suite
//   swift package benchmark baseline update main                   # record a baseline …
//   swift package benchmark baseline compare main                  # … and compare against it later
import Foundation
import PackageDescription

// A path dependency's identity is its folder's name, which depends on where the repository was cloned.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent.lowercased()

let benchmarkDependencies: [Target.Dependency] = [
    .product(name: "Benchmark", package: "benchmark"),
    .product(name: "Switchyard", package: root),
    .product(name: "SwitchyardBench", package: root),
]

let package = Package(
    name: "SwitchyardBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: "../"),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: ["VectorMathBenchmarks", "SearchBenchmarks", "StoreBenchmarks", "OperationsBenchmarks"].map { name in
        .executableTarget(
            name: name,
            dependencies: benchmarkDependencies,
            path: "Benchmarks/\(name)",
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    }
)

// swift-tools-version: 6.1
import PackageDescription

let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "Switchyard",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Switchyard", targets: ["Switchyard"]),
        // The benchmark harnesses behind `switchyard bench` and the package-benchmark suites in Benchmarks/.
        .library(name: "SwitchyardBench", targets: ["SwitchyardBench"]),
        .executable(name: "switchyard", targets: ["SwitchyardCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        // BLAS through the system's libblas.so.3 (OpenBLAS when libopenblas0-pthread is installed).
        .systemLibrary(
            name: "CBLAS",
            providers: [.apt(["libblas-dev", "libopenblas0-pthread"])]
        ),
        // SIMD kernels with AVX2 / AVX-512 variants chosen at run time.
        .target(
            name: "CKernels",
            cSettings: [.unsafeFlags(["-O3", "-fno-math-errno"])]
        ),
        // Process-wide SQLite settings made before the first connection opens (sqlite3_config is variadic).
        .target(
            name: "CSQLiteSetup",
            linkerSettings: [.linkedLibrary("sqlite3")]
        ),
        // The project's locks (pthread-based, visible to ThreadSanitizer); uses no other module.
        .target(
            name: "Locks",
            swiftSettings: strictSettings
        ),
        // JSON values that keep integers and floats apart, a strict parser, canonical output.
        .target(
            name: "SwitchyardJSON",
            swiftSettings: strictSettings
        ),
        // Metric definitions (swift-metrics) and the Prometheus registry; uses no other module.
        .target(
            name: "Telemetry",
            dependencies: [
                "Locks",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "VectorMath",
            dependencies: ["CBLAS", "CKernels", "Locks"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "VectorStore",
            dependencies: [
                "CSQLiteSetup",
                "Locks",
                .product(name: "Logging", package: "swift-log"),
                "VectorMath",
                "Telemetry",
                "SwitchyardJSON",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "Embedding",
            dependencies: [
                "CBLAS",
                "CKernels",
                "Locks",
                "VectorMath",
                "SwitchyardJSON",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "Operations",
            dependencies: [
                "Locks",
                .product(name: "Logging", package: "swift-log"),
                "VectorStore",
                "Telemetry",
                "Embedding",
                "SwitchyardJSON",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "Reindex",
            dependencies: [
                "Locks",
                .product(name: "Logging", package: "swift-log"),
                "Operations",
                "Telemetry",
                "VectorStore",
                "Embedding",
                "SwitchyardJSON",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strictSettings
        ),
        // Qdrant's REST API over the store (Hummingbird 2), for `switchyard serve`.
        .target(
            name: "Server",
            dependencies: [
                "Locks", "VectorMath", "VectorStore", "Telemetry", "SwitchyardJSON",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strictSettings
        ),
        // The managed layer over HTTP (`/switchyard/v1`) and in-process workers, for `switchyard serve`.
        .target(
            name: "ManagedServer",
            dependencies: [
                "Switchyard", "Server", "Locks", "SwitchyardJSON",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // A Qdrant server over its REST API behind VectorBackend (AsyncHTTPClient, TLS with swift-nio-ssl).
        .target(
            name: "QdrantBackend",
            dependencies: [
                "Locks", "VectorMath", "VectorStore", "SwitchyardJSON",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // Benchmark harnesses: synthetic data, exact search, APPEND, REINDEX under readers (`switchyard bench …`).
        .target(
            name: "SwitchyardBench",
            dependencies: ["Locks", "VectorMath", "VectorStore", "Embedding", "Operations", "Reindex", "Telemetry", "SwitchyardJSON"],
            swiftSettings: strictSettings
        ),
        // `switchyard demo`: a blue-green reindex end to end, with readers, metrics and the report.
        .target(
            name: "SwitchyardDemo",
            dependencies: ["VectorStore", "Embedding", "Operations", "Reindex", "QdrantBackend", "SwitchyardJSON"],
            swiftSettings: strictSettings
        ),
        // `switchyard bench serve`: the same calls in-process and through the HTTP API.
        .target(
            name: "ServeBenchmark",
            dependencies: [
                "Server", "SwitchyardBench", "Locks", "VectorMath", "VectorStore", "SwitchyardJSON",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // The library's one import: re-exports the modules above, holds nothing of its own.
        .target(
            name: "Switchyard",
            dependencies: ["VectorMath", "VectorStore", "Embedding", "Operations", "Reindex", "Telemetry", "QdrantBackend"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "SwitchyardCLI",
            dependencies: [
                "Switchyard",
                "SwitchyardBench",
                "SwitchyardDemo",
                "Server",
                "ManagedServer",
                "ServeBenchmark",
                "QdrantBackend",
                "Locks",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "_SwitchyardTestSupport",
            dependencies: ["Locks", "VectorMath", "VectorStore", "QdrantBackend", "Embedding", .product(name: "Logging", package: "swift-log")],
            path: "Tests/_SwitchyardTestSupport",
            swiftSettings: strictSettings
        ),
        // An OpenAI-compatible embeddings server with switchable faults, for the `http:` embedder's tests.
        .executableTarget(
            name: "EmbeddingTestServer",
            dependencies: [
                "Embedding", "Locks", "SwitchyardJSON",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Tests/EmbeddingTestServer",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "VectorMathTests",
            dependencies: ["CKernels", "VectorMath", "_SwitchyardTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "VectorStoreTests",
            dependencies: ["Locks", "VectorStore", "SwitchyardJSON", "_SwitchyardTestSupport", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SwitchyardBenchTests",
            dependencies: ["SwitchyardBench", "VectorMath", "_SwitchyardTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SwitchyardJSONTests",
            dependencies: ["SwitchyardJSON", "_SwitchyardTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "EmbeddingTests",
            dependencies: [
                "Embedding", "CKernels", "SwitchyardJSON", "_SwitchyardTestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            exclude: ["Fixtures"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "TelemetryTests",
            dependencies: [
                "Telemetry", "Operations", "Reindex", "Locks", "_SwitchyardTestSupport",
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ReindexTests",
            dependencies: ["Reindex", "Operations", "_SwitchyardTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "OperationsTests",
            dependencies: ["Operations", "_SwitchyardTestSupport", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ServerTests",
            dependencies: [
                "Server", "ManagedServer", "Switchyard", "VectorStore", "SwitchyardJSON", "Telemetry", "_SwitchyardTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "QdrantBackendTests",
            dependencies: ["QdrantBackend", "VectorStore", "VectorMath", "SwitchyardJSON", "_SwitchyardTestSupport",
                           .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["Locks", "Switchyard", "QdrantBackend", "_SwitchyardTestSupport", .product(name: "GRDB", package: "GRDB.swift")],
            exclude: ["Scripts"],
            swiftSettings: strictSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)

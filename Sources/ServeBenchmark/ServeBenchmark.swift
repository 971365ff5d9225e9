import AsyncHTTPClient
import Foundation
import Locks
import Logging
import NIOCore
import NIOHTTP1
import Server
import SwitchyardBench
import SwitchyardJSON
import VectorMath
import VectorStore

/// `switchyard bench serve`: the same single-query searches and single-point upserts in-process
/// (`Store.search`, `Store.upsert` on threads) and through `switchyard serve`'s HTTP API (AsyncHTTPClient on
/// loopback), at several concurrencies, on one store; plus how long `serve` takes to answer after start.
///
/// Client and server share the machine, as they do when an app's tests run against a local `serve`.
public enum ServeBenchmark {
    public struct Configuration: Sendable {
        public var points = 100_000
        public var dimension = 384
        public var concurrency = [1, 8, 32]
        /// Seconds each measurement runs.
        public var seconds = 3.0
        public var k = 10
        /// The `switchyard` executable, to time `serve` from start to its first answer (skipped when nil).
        public var executable: String?
        public init() {}
    }

    public struct Cell: Sendable {
        public var mode: String
        public var operation: String
        public var concurrency: Int
        public var requests: Int
        public var errors: Int
        public var qps: Double
        public var p50Ms: Double
        public var p99Ms: Double

        public var json: JSONValue {
            ["mode": .string(mode), "operation": .string(operation), "concurrency": .int(Int64(concurrency)),
             "requests": .int(Int64(requests)), "errors": .int(Int64(errors)), "qps": .double(qps), "p50_ms": .double(p50Ms),
             "p99_ms": .double(p99Ms)]
        }
    }

    public struct Result: Sendable {
        public var points: Int
        public var dimension: Int
        public var cells: [Cell]
        /// From launching `switchyard serve` on an empty store to its first 200 (nil when not measured).
        public var readyMs: Double?

        public var json: JSONValue {
            ["points": .int(Int64(points)), "dimension": .int(Int64(dimension)), "cells": .array(cells.map(\.json)),
             "ready_ms": readyMs.map { .double($0) } ?? .null]
        }
    }

    public static func run(_ c: Configuration, progress: @Sendable (String) -> Void = { _ in }) async throws -> Result {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("switchyard-bench-serve-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var readyMs: Double?
        if let executable = c.executable {
            readyMs = try await timeToReady(executable: executable, store: dir + "/empty")
            progress(String(format: "serve answered %.1f ms after launch (empty store)", readyMs!))
        }
        progress("generating and ingesting \(c.points) x \(c.dimension) points")
        let data = try SyntheticData.generate(.init(count: c.points, dimension: c.dimension, queries: 256, groundTruthK: 1))
        let store = try Store.open(at: dir + "/store")
        defer { try? store.close() }
        try store.createCollection("bench", dimension: c.dimension, distance: .cosine)
        var start = 0
        while start < c.points {
            let end = min(start + 5_000, c.points)
            let ids = (start..<end).map { PointID.number(UInt64($0)) }
            try data.base.values.withUnsafeBufferPointer { all throws(StoreError) in
                let slice = UnsafeBufferPointer(rebasing: all[(start * c.dimension)..<(end * c.dimension)])
                _ = try store.upsert("bench", ids: ids, vectors: slice)
            }
            start = end
        }
        _ = try store.search("bench", SearchRequest(vector: data.queries.row(0), limit: c.k))  // loads the collection
        let queries = (0..<data.queries.count).map { data.queries.row($0) }
        // Request bodies are made before timing: the figures are the transport and the server, not the
        // benchmark's own JSON encoding.
        let searchBodies = queries.map { Self.searchBody($0, k: c.k) }

        var logger = Logger(label: "switchyard.bench.serve")
        logger.logLevel = .error
        var sc = QdrantServer.Configuration()
        sc.port = 0
        let server = try await RunningServer.start(api: QdrantAPI(store: store), configuration: sc, logger: logger)
        let port = server.port
        let maxConcurrency = c.concurrency.max() ?? 1
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(
            connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: max(8, maxConcurrency))))
        var cells: [Cell] = []
        do {
            let url = "http://127.0.0.1:\(port)/collections/bench/points"
            for n in c.concurrency {
                progress("search, concurrency \(n)")
                cells.append(inProcess("search", n, c.seconds) { worker, i in
                    _ = try store.search("bench", SearchRequest(vector: queries[(worker * 7919 + i) % queries.count], limit: c.k))
                })
                cells.append(try await overHTTP("search", n, c.seconds, client: client) { worker, i in
                    (url + "/search", .POST, searchBodies[(worker * 7919 + i) % searchBodies.count])
                })
            }
            let next = Locked(c.points)
            for n in c.concurrency {
                progress("upsert, concurrency \(n)")
                cells.append(inProcess("upsert", n, c.seconds) { worker, i in
                    let id = next.withLock { v -> Int in v += 1; return v }
                    _ = try store.upsert("bench", points: [Point(id: .number(UInt64(id)), vector: queries[(worker + i) % queries.count])])
                })
                cells.append(try await overHTTP("upsert", n, c.seconds, client: client) { worker, i in
                    let id = next.withLock { v -> Int in v += 1; return v }
                    return (url + "?wait=true", .PUT, Self.upsertBody(id: id, queries[(worker + i) % queries.count]))
                })
            }
        } catch {
            try? await client.shutdown()
            try? await server.stop()
            throw error
        }
        try await client.shutdown()
        try await server.stop()
        return Result(points: c.points, dimension: c.dimension, cells: cells, readyMs: readyMs)
    }

    static func searchBody(_ q: [Float], k: Int) -> String {
        JSONValue.object(["vector": .array(q.map { .double(Double($0)) }), "limit": .int(Int64(k))]).jsonText
    }

    static func upsertBody(id: Int, _ v: [Float]) -> String {
        JSONValue.object(["points": [["id": .int(Int64(id)), "vector": .array(v.map { .double(Double($0)) })]]]).jsonText
    }

    /// `n` threads calling `body` for `seconds`.
    static func inProcess(_ op: String, _ n: Int, _ seconds: Double, _ body: @escaping @Sendable (Int, Int) throws -> Void) -> Cell {
        let latencies = Locked<[Double]>([])
        let errors = Locked(0)
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        let done = DispatchGroup()
        let started = ContinuousClock.now
        for worker in 0..<n {
            done.enter()
            Thread {
                var mine: [Double] = []
                var failures = 0
                var i = 0
                while ContinuousClock.now < deadline {
                    let t = ContinuousClock.now
                    do { try body(worker, i) } catch { failures += 1 }
                    mine.append((ContinuousClock.now - t).milliseconds)
                    i += 1
                }
                latencies.withLock { $0 += mine }
                errors.withLock { $0 += failures }
                done.leave()
            }.start()
        }
        done.wait()
        return cell("in-process", op, n, latencies.withLock { $0 }, errors.withLock { $0 }, (ContinuousClock.now - started).milliseconds / 1000)
    }

    /// `n` concurrent clients sending the requests `make` builds for `seconds`.
    static func overHTTP(_ op: String, _ n: Int, _ seconds: Double, client: HTTPClient,
                         _ make: @escaping @Sendable (Int, Int) -> (String, HTTPMethod, String)) async throws -> Cell {
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        let started = ContinuousClock.now
        let all = try await withThrowingTaskGroup(of: ([Double], Int).self) { group in
            for worker in 0..<n {
                group.addTask {
                    var mine: [Double] = []
                    var failures = 0
                    var i = 0
                    while ContinuousClock.now < deadline {
                        let (url, method, body) = make(worker, i)
                        var request = HTTPClientRequest(url: url)
                        request.method = method
                        request.headers.add(name: "content-type", value: "application/json")
                        request.body = .bytes(ByteBuffer(string: body))
                        let t = ContinuousClock.now
                        do {
                            let response = try await client.execute(request, timeout: .seconds(30))
                            _ = try await response.body.collect(upTo: 1 << 24)
                            if response.status != .ok { failures += 1 }
                        } catch { failures += 1 }
                        mine.append((ContinuousClock.now - t).milliseconds)
                        i += 1
                    }
                    return (mine, failures)
                }
            }
            var latencies: [Double] = []
            var errors = 0
            for try await (l, e) in group {
                latencies += l
                errors += e
            }
            return (latencies, errors)
        }
        return cell("http", op, n, all.0, all.1, (ContinuousClock.now - started).milliseconds / 1000)
    }

    static func cell(_ mode: String, _ op: String, _ n: Int, _ latencies: [Double], _ errors: Int, _ seconds: Double) -> Cell {
        let sorted = latencies.sorted()
        func pct(_ p: Double) -> Double { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
        return Cell(mode: mode, operation: op, concurrency: n, requests: sorted.count, errors: errors,
                    qps: seconds > 0 ? Double(sorted.count) / seconds : 0, p50Ms: pct(0.5), p99Ms: pct(0.99))
    }

    /// Launches `switchyard serve --port 0` on an empty store and polls `/healthz` until it answers.
    static func timeToReady(executable: String, store: String) async throws -> Double {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["serve", "--store", store, "--port", "0", "--log-level", "error"]
        let err = Pipe()
        process.standardError = err
        let started = ContinuousClock.now
        try process.run()
        defer {
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
        }
        // The port is in the first line on stderr: "serving … on http://127.0.0.1:PORT".
        var text = ""
        while !text.contains("\n") {
            let chunk = err.fileHandleForReading.availableData
            if chunk.isEmpty { throw BenchError(message: "switchyard serve exited before it was ready") }
            text += String(decoding: chunk, as: UTF8.self)
        }
        guard let r = text.range(of: #"http://127\.0\.0\.1:[0-9]+"#, options: .regularExpression),
              let port = Int(text[r].split(separator: ":").last ?? "") else {
            throw BenchError(message: "switchyard serve printed no address: \(text)")
        }
        while true {
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/healthz")
            request.method = .GET
            if let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(5)), response.status == .ok {
                return (ContinuousClock.now - started).milliseconds
            }
            guard ContinuousClock.now - started < .seconds(30) else { throw BenchError(message: "switchyard serve did not answer within 30 s") }
            try await Task.sleep(for: .milliseconds(1))
        }
    }

    public struct BenchError: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }
}

extension Duration {
    var milliseconds: Double { Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15 }
}

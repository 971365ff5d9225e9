import Foundation
import Operations
@testable import Reindex
import SwitchyardJSON
import Testing
import VectorStore
import _SwitchyardTestSupport

@Suite("Comparison, thresholds and the reindex handler in-process")
struct ComparisonTests {
    static func harness(files: Int = 60, embedder: String = "hash-v1") throws -> (TemporaryDirectory, Store, CollectionManager) {
        let dir = try TemporaryDirectory(prefix: "switchyard-reindex")
        let src = dir.appending("src")
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
        let words = ["alpha", "beta", "gamma", "delta", "omega", "sigma", "kappa", "theta"]
        for i in 0..<files {
            let text = (0..<6).map { words[(i + $0 * 3 + i / 5) % words.count] }.joined(separator: " ") + " item \(i)"
            try text.write(toFile: "\(src)/f\(i).txt", atomically: true, encoding: .utf8)
        }
        let store = try Store.open(at: dir.appending("store"))
        let manager = try CollectionManager(store: store, vectors: try BackendMatrix.vectors(for: dir.appending("store")))
        try manager.createCollection(CollectionSpec(name: "c", embedder: embedder), sources: [src])
        try Worker(manager: manager).runUntilIdle()
        return (dir, store, manager)
    }

    @Test func aCollectionComparedWithItselfAgreesFully() throws {
        let (dir, _, manager) = try Self.harness()
        defer { withExtendedLifetime(dir) {} }
        let service = try ReindexService(manager: manager)
        let r = try Comparison(manager: manager, old: try service.side("old", "c"), new: try service.side("new", "c"), options: .init()).run()
        #expect(r.passed, "\(r.failing)")
        #expect(r.sameEmbedder && r.missingDocuments == 0 && r.extraDocuments == 0)
        #expect(r.queries.count == 10)  // min(100, 60/10) raised to at least 10
        #expect(r.queries.allSatisfy { $0.overlap == 10 && $0.top1Agrees && $0.oldTop1 == $0.newTop1 })
        #expect(r.selfRetrieval.old == 1 && r.selfRetrieval.new == 1)
        let verdicts = Dictionary(uniqueKeysWithValues: r.checks.map { ($0.name, $0.verdict) })
        #expect(verdicts["low_overlap_fraction"] == .pass && verdicts["top1_score_diff"] == .pass && verdicts["vector_ratio"] == .pass)
        #expect(r.json.objectValue?["passed"] == .bool(true))
        #expect(r.markdown.contains("**Verdict: PASSED**"))
    }

    @Test func thresholdsAreParsedByName() throws {
        let t = try Thresholds.make(["min_self_recall": 0.5, "max_ndcg_drop": 0])
        #expect(t.minSelfRecall == 0.5 && t.maxNDCGDrop == 0 && t.maxVectorRatio == 1.1)
        let e = #expect(throws: OperationsError.self) { try Thresholds.make(["min_recall": 1]) }
        #expect(e?.message.contains("unknown threshold 'min_recall'") == true)
        #expect(throws: OperationsError.self) { try Thresholds.make(["max_ndcg_drop": .nan]) }
    }

    @Test func aDeliberatelyStrictThresholdRejectsAndRollsBack() throws {
        let (dir, _, manager) = try Self.harness()
        defer { withExtendedLifetime(dir) {} }
        let before = try manager.collection(named: "c")
        let op = try manager.requestReindex("c", ReindexRequest(embedder: "hash-v2", thresholds: ["min_self_recall": 1.01]))
        var o = Worker.Options()
        o.pollInterval = .milliseconds(10)
        var settings = ReindexSettings()
        settings.gracePeriod = 0
        try Worker(manager: manager, options: o, handlers: [.reindex: ReindexHandler(settings: settings)]).runUntilIdle()
        let done = try manager.operation(op.id)
        #expect(done.status == .failed && done.attempts == 1)
        #expect(done.error?.contains("self_recall_new") == true)
        #expect(done.checkpoint?["validation"]?.objectValue?["passed"] == .bool(false))
        let after = try manager.collection(named: "c")
        #expect(after.vectorStoreName == before.vectorStoreName && after.status == .ready && after.embedder == "hash-v1")
        #expect(after.statusMessage?.contains("still serving \(before.vectorStoreName)") == true)
        #expect(try manager.vectors.collections().map(\.name) == [before.vectorStoreName])
        #expect(try manager.reservations().isEmpty)
        #expect(try manager.audit(collection: "c").last?.action == "reindex_failed")
    }

    @Test func chunkingChangeSwitchesAndKeepsTheOldGeneration() throws {
        let (dir, _, manager) = try Self.harness()
        defer { withExtendedLifetime(dir) {} }
        let before = try manager.collection(named: "c")
        let op = try manager.requestReindex("c", ReindexRequest(embedder: "hash-v2", chunkSize: 4, chunkOverlap: 1))
        var settings = ReindexSettings()
        settings.gracePeriod = 0
        try Worker(manager: manager, handlers: [.reindex: ReindexHandler(settings: settings)]).runUntilIdle()
        let done = try manager.operation(op.id)
        #expect(done.status == .completed, "\(done.error ?? "") \(done.checkpoint.map { JSONValue.object($0).jsonText } ?? "")")
        let after = try manager.collection(named: "c")
        #expect(after.chunkSize == 4 && after.vectorCount > before.vectorCount)
        #expect(try manager.vectors.count("c", filter: nil) == after.vectorCount)
        let checks = done.checkpoint?["validation"]?.objectValue?["checks"]?.arrayValue ?? []
        #expect(checks.contains { $0.objectValue?["name"] == "vector_ratio" && $0.objectValue?["verdict"] == "info" })
        let gens = try ReindexService(manager: manager).generations(of: "c")
        #expect(gens.map(\.status) == [.serving, .kept])
        #expect(gens.last?.vectorStoreName == before.vectorStoreName)
        #expect((done.result?["switch_ms"]?.numberValue ?? 1e9) < 1e4)
        // Documents added after the switch would be lost by going back: the rollback is refused.
        let extra = dir.appending("extra")
        try FileManager.default.createDirectory(atPath: extra, withIntermediateDirectories: true)
        try "a new document".write(toFile: extra + "/n.txt", atomically: true, encoding: .utf8)
        try manager.append("c", source: extra)
        try Worker(manager: manager).runUntilIdle()
        let refused = #expect(throws: OperationsError.self) { try ReindexService(manager: manager).rollback("c") }
        #expect(refused?.code == .conflict && refused?.message.contains("changed since") == true)
        #expect(try manager.vectors.resolve("c") == after.vectorStoreName)
    }
}

@Suite("Per-query changes in the comparison report")
struct ComparisonChangesTests {
    @Test func theBootstrapIntervalIsDeterministicAndCoversTheMean() throws {
        let constant = try #require(PairedBootstrap.meanInterval([Double](repeating: -0.25, count: 40)))
        #expect(constant.low == -0.25 && constant.high == -0.25 && constant.excludesZero)
        // ±1 alternately: mean 0, standard deviation 1, so the 95% interval is about ±1.96/√n.
        let n = 400
        let symmetric = (0..<n).map { $0 % 2 == 0 ? 1.0 : -1.0 }
        let ci = try #require(PairedBootstrap.meanInterval(symmetric))
        #expect(ci == PairedBootstrap.meanInterval(symmetric))
        #expect(ci.low < 0 && ci.high > 0 && !ci.excludesZero)
        let expected = 1.96 / Double(n).squareRoot()
        #expect(abs(-ci.low - expected) < 0.15 * expected && abs(ci.high - expected) < 0.15 * expected, "\(ci)")
        // A shifted sample: the interval moves with it and excludes zero.
        let shifted = try #require(PairedBootstrap.meanInterval(symmetric.map { $0 * 0.1 - 0.05 }))
        #expect(shifted.high < 0 && shifted.low > -0.1)
        #expect(PairedBootstrap.meanInterval([]) == nil)
    }

    /// With few labelled or few changed queries a percentile bootstrap is over-confident: the report gives the
    /// interval but draws no conclusion.
    @Test func fewQueriesAreNotJudged() {
        func row(_ id: String, old: Double, new: Double) -> ComparisonReport.QueryRow {
            ComparisonReport.QueryRow(id: id, text: id, overlap: 5, depth: 10, overlapAt5: 3, rankCorrelation: nil, top1Agrees: false,
                                      oldTop1: nil, newTop1: nil, oldTop: [], newTop: [],
                                      old: .init(recall: old, ndcg: old, mrr: old), new: .init(recall: new, ndcg: new, mrr: new))
        }
        let few = ComparisonReport.Changes.summarising((0..<5).map { row("q\($0)", old: 1, new: 0.5) }, labelled: true)
        #expect(few.worsened == 5 && few.interval?.excludesZero == true && !few.judgeable)
        #expect(few.summary(k: 10).contains("too few queries to judge"))
        // 300 queries of which 4 changed: still too few changed.
        let rows = (0..<300).map { i in row("q\(i)", old: 0.5, new: i < 4 ? 0.2 : 0.5) }
        let sparse = ComparisonReport.Changes.summarising(rows, labelled: true)
        #expect(sparse.worsened == 4 && sparse.unchanged == 296 && !sparse.judgeable)
        let many = ComparisonReport.Changes.summarising((0..<40).map { i in row("q\(i)", old: 0.6, new: i % 4 == 0 ? 0.7 : 0.3) }, labelled: true)
        #expect(many.judgeable && many.summary(k: 10).contains("the drop is unlikely to be chance"))
    }

    @Test(arguments: [(-1.0, 0), (-0.1, 9), (-0.05, 9), (-0.95, 0), (0.0, 10), (1e-13, 10), (0.05, 11), (0.1, 11), (0.15, 12), (1.0, 20)])
    func nDCGChangeBins(_ delta: Double, _ bin: Int) {
        #expect(ComparisonReport.deltaBin(delta, epsilon: 1e-12) == bin)
    }

    /// Labels for the harness' corpus: every other document's text is a query that only that document answers.
    static func labelled(_ dir: TemporaryDirectory, documents: Int = 60) throws -> (queries: String, qrels: String) {
        var queries = "", qrels = "query-id\tcorpus-id\tscore\n"
        for i in stride(from: 0, to: documents, by: 2) {
            let text = try String(contentsOfFile: dir.appending("src/f\(i).txt"), encoding: .utf8)
            queries += "{\"_id\": \"q\(i)\", \"text\": \"\(text)\"}\n"
            qrels += "q\(i)\tf\(i).txt\t1\n"
        }
        try queries.write(toFile: dir.appending("queries.jsonl"), atomically: true, encoding: .utf8)
        try qrels.write(toFile: dir.appending("qrels.tsv"), atomically: true, encoding: .utf8)
        return (dir.appending("queries.jsonl"), dir.appending("qrels.tsv"))
    }

    /// Reindexes collection `c` to a much poorer embedder, with checks loose enough to switch; returns the
    /// service and the generation that served before, for comparing the two.
    static func reindexToAPoorEmbedder(_ manager: CollectionManager) throws -> (ReindexService, String) {
        let before = try manager.collection(named: "c").vectorStoreName
        _ = try manager.requestReindex("c", ReindexRequest(embedder: "hash:dim=8", thresholds: ["min_self_recall": 0, "max_self_recall_drop": 1]))
        var settings = ReindexSettings()
        settings.gracePeriod = 0
        try Worker(manager: manager, handlers: [.reindex: ReindexHandler(settings: settings)]).runUntilIdle()
        return (try ReindexService(manager: manager), before)
    }

    @Test func aWorseEmbedderShowsItsDropsWithTextTopResultsAndAnInterval() throws {
        let (dir, _, manager) = try ComparisonTests.harness(embedder: "hash-v2")
        defer { withExtendedLifetime(dir) {} }
        let files = try Self.labelled(dir)
        let (service, before) = try Self.reindexToAPoorEmbedder(manager)
        var options = Comparison.Options()
        options.queriesPath = files.queries
        options.qrelsPath = files.qrels
        let r = try Comparison(manager: manager, old: try service.side("old", before), new: try service.side("new", "c"), options: options).run()
        let c = r.changes
        #expect(c.labelled && c.improved + c.unchanged + c.worsened == r.queries.count && r.queries.count == 30)
        #expect(c.worsened > c.improved, "\(c.improved) improved, \(c.worsened) worsened")
        let mean = try #require(c.meanDifference), ci = try #require(c.interval)
        #expect(mean < 0 && ci.low <= mean && mean <= ci.high && ci.high < 0, "\(mean) \(ci)")
        #expect(abs(mean - ((r.newSummary?.ndcg ?? 0) - (r.oldSummary?.ndcg ?? 0))) < 1e-9)
        // The drops, worst first, each with both sides' top results; the relevant document is marked.
        #expect(!c.drops.isEmpty && c.drops.count <= ComparisonReport.Changes.listed)
        let deltas = c.drops.compactMap(\.delta)
        #expect(deltas.count == c.drops.count && deltas.allSatisfy { $0 < 0 } && deltas == deltas.sorted())
        #expect(c.gains.compactMap(\.delta).allSatisfy { $0 > 0 })
        for d in c.drops {
            let relevant = "f\(d.id.dropFirst()).txt"
            #expect(d.text.contains(" item ") && d.oldHits.count == ComparisonReport.shownHits)
            #expect(d.oldHits.allSatisfy { !$0.snippet.isEmpty && $0.isMarked == ($0.document == relevant) })
            #expect(d.newHits.allSatisfy { $0.isMarked == ($0.document == relevant) && $0.relevance != nil })
            // The old side found it (its nDCG was above 0), so it is marked among the old top results.
            #expect(d.oldHits.contains { $0.isMarked } || (d.old ?? 0) == 0 || r.k > ComparisonReport.shownHits)
        }
        let worst = try #require(c.drops.first)
        let json = try #require(r.json.objectValue?["changes"]?.objectValue)
        #expect(json["worsened"] == .int(Int64(c.worsened)) && json["ci95"]?.objectValue?["excludes_zero"] == .bool(true))
        #expect(json["largest_drops"]?.arrayValue?.first?.objectValue?["id"] == .string(worst.id))
        let md = r.markdown
        #expect(md.contains("## Per-query changes") && md.contains("### Largest drops") && md.contains("**\(worst.id)**"))
        #expect(md.contains("confidence interval") && md.contains("worsened"))
        let html = r.html
        #expect(html.contains("<h3>Largest drops</h3>") && html.contains("class=\"rel\"") && html.contains("−max_ndcg_drop"))
    }

    @Test func withoutLabelsTheMostChangedQueriesAreListedWithTheirSourceDocument() throws {
        let (dir, _, manager) = try ComparisonTests.harness()
        defer { withExtendedLifetime(dir) {} }
        let (service, before) = try Self.reindexToAPoorEmbedder(manager)
        let r = try Comparison(manager: manager, old: try service.side("old", before), new: try service.side("new", "c"), options: .init()).run()
        let c = r.changes
        #expect(!c.labelled && c.identical + c.partial + c.disjoint == r.queries.count && c.interval == nil && c.gains.isEmpty)
        #expect(!c.drops.isEmpty && c.drops.map(\.overlap) == c.drops.map(\.overlap).sorted())
        // Each query was sampled from a document; where that document ranks, it is marked.
        for d in c.drops {
            let marked = (d.oldHits + d.newHits).filter(\.isMarked)
            #expect(marked.allSatisfy { $0.isSource && $0.relevance == nil })
        }
        #expect(c.drops.contains { $0.oldHits.contains(where: \.isSource) })
        #expect(r.markdown.contains("Most changed (lowest overlap@10)") && r.markdown.contains("identical"))
    }
}

@Suite("Orphaned staging collections")
struct OrphanTests {
    @Test func workersRemoveUnreferencedStagingCollectionsOnly() throws {
        let (dir, _, manager) = try ComparisonTests.harness(files: 12)
        defer { withExtendedLifetime(dir) {} }
        let c = try manager.collection(named: "c")
        // Named as a reindex names it, with the time it was made (a remote backend reports no creation time).
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd_HHmmss"
        let orphan = "staging_\(c.vectorStoreName)_\(f.string(from: Date()))"
        try manager.vectors.createCollection(orphan, dimension: 4, distance: .cosine)
        try manager.vectors.createCollection("staging_unrelated_x", dimension: 4, distance: .cosine)
        try manager.vectors.updateAliases([.create(alias: "pinned", collection: "staging_unrelated_x")])
        var young = ReindexSettings()
        young.stagingMinimumAge = 3600
        ReindexHandler(settings: young).recover(manager)
        #expect(try manager.vectors.collectionExists(orphan))  // younger than the minimum age
        var settings = ReindexSettings()
        settings.stagingMinimumAge = 0
        ReindexHandler(settings: settings).recover(manager)
        #expect(try !manager.vectors.collectionExists(orphan))
        #expect(try manager.vectors.collectionExists("staging_unrelated_x"))  // an alias points to it
        #expect(try manager.vectors.collectionExists(c.vectorStoreName))
        let last = try #require(try manager.audit(collection: "c").last)
        #expect(last.action == "staging_removed" && last.details["staging"] == .string(orphan))
    }
}

@Suite("Staging names")
struct StagingNameTests {
    /// Two reindexes of one collection within the same second once got the same staging name, and the second
    /// replaced the first one's (serving) collection.
    @Test func namesAreUniqueWithinASecondAndTellTheirAge() throws {
        let names = (0..<50).map { _ in ReindexHandler.stagingName(collectionID: "abc") }
        #expect(Set(names).count == names.count)
        for name in names.prefix(3) + ["staging_col_abc_20260101_000000"] {
            let age = Date().timeIntervalSince(try #require(Generations.stagingTime(name)))
            #expect(name.hasSuffix("_20260101_000000") ? age > 86_400 : abs(age) < 5, "\(name): \(age)")
        }
    }
}

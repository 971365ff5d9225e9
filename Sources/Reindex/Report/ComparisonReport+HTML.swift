import Operations
import Foundation
import SwitchyardJSON

extension ComparisonReport {
    /// One self-contained HTML page (no scripts, no network): verdict, the checks table, the two sides,
    /// and inline SVG charts — overlap@k histogram, top-1 score distributions, per-query nDCG old vs new.
    public var html: String {
        let top1 = meanTop1
        var rows = ""
        for c in checks {
            rows += "<tr class=\"\(c.verdict.rawValue)\"><td>\(esc(c.name))</td><td>\(c.value.map { String(format: "%.4f", $0) } ?? "–")</td><td>\(esc(c.threshold))</td><td>\(c.verdict.rawValue.uppercased())</td><td>\(esc(c.note))</td></tr>\n"
        }
        func cell(_ v: Double?) -> String { v.map { String(format: "%.4f", $0) } ?? "–" }
        var sides = """
            <tr><th></th><th>old</th><th>new</th></tr>
            <tr><td>collection</td><td><code>\(esc(old.collection))</code></td><td><code>\(esc(new.collection))</code></td></tr>
            <tr><td>embedder</td><td><code>\(esc(old.embedder))</code></td><td><code>\(esc(new.embedder))</code></td></tr>
            <tr><td>vectors</td><td>\(old.vectors)</td><td>\(new.vectors)</td></tr>
            <tr><td>documents</td><td>\(old.documents)</td><td>\(new.documents)</td></tr>
            <tr><td>self-retrieval recall@10</td><td>\(cell(selfRetrieval.old))</td><td>\(cell(selfRetrieval.new))</td></tr>
            <tr><td>mean top-1 score</td><td>\(cell(top1.old))</td><td>\(cell(top1.new))</td></tr>
            """
        if let o = oldSummary, let n = newSummary {
            sides += """
                <tr><td>nDCG@\(k)</td><td>\(cell(o.ndcg))</td><td>\(cell(n.ndcg))</td></tr>
                <tr><td>recall@\(k)</td><td>\(cell(o.recall))</td><td>\(cell(n.recall))</td></tr>
                <tr><td>MRR@\(k)</td><td>\(cell(o.mrr))</td><td>\(cell(n.mrr))</td></tr>
                """
        }
        var charts = overlapHistogram() + overlapAt5Histogram() + scoreDistributions()
        if labelled { charts += ndcgDeltaHistogram() + ndcgScatter() }
        let verdict = passed ? "PASSED" : "REJECTED — failing: \(failing.joined(separator: ", "))"
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <title>Comparison \(esc(old.collection)) → \(esc(new.collection))</title>
            <style>
            body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
            table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}
            tr.pass td:nth-child(4){color:#1a7f37;font-weight:bold}tr.fail td:nth-child(4){color:#cf222e;font-weight:bold}
            tr.warn td:nth-child(4){color:#9a6700;font-weight:bold}tr.info td:nth-child(4){color:#57606a}
            .verdict{font-size:1.3em;font-weight:bold;color:\(passed ? "#1a7f37" : "#cf222e")}
            figure{display:inline-block;margin:1em 1em 1em 0;vertical-align:top}figcaption{font-size:.9em;color:#57606a;max-width:540px}
            .change{margin:1.2em 0;border-top:1px solid #ddd;padding-top:.6em}.change table{width:100%;table-layout:fixed}
            .change td{vertical-align:top;font-size:.9em}.rel{background:#dafbe1}.rel b::before{content:"✓ ";color:#1a7f37}
            .down{color:#cf222e;font-weight:bold}.up{color:#1a7f37;font-weight:bold}.snippet{color:#57606a}
            </style></head><body>
            <h1>Collection comparison</h1>
            <p class="verdict">\(esc(verdict))</p>
            <p>\(queries.count) queries (\(esc(queriesSource))), k = \(k); same embedder: \(sameEmbedder ? "yes" : "no"), same chunking: \(sameChunking ? "yes" : "no");
            documents missing from new: \(missingDocuments), only in new: \(extraDocuments), failed: \(failedDocuments); computed in \(String(format: "%.2f", seconds)) s.</p>
            <h2>Checks</h2>
            <table><tr><th>check</th><th>value</th><th>threshold</th><th>verdict</th><th>note</th></tr>
            \(rows)</table>
            <h2>Sides</h2>
            <table>\(sides)</table>
            <h2>Charts</h2>
            \(charts)
            \(changesSection())
            </body></html>

            """
    }

    // MARK: - Charts (inline SVG)

    private func overlapHistogram() -> String {
        var counts = [Int](repeating: 0, count: k + 1)
        for q in queries { counts[min(k, max(0, q.overlap))] += 1 }
        let labels = (0...k).map(String.init)
        return figure("Overlap@\(k) per query (documents in both top-\(k) lists)",
                      bars(series: [(counts.map(Double.init), "#0969da")], labels: labels, xTitle: "overlap@\(k)", yTitle: "queries"))
    }

    /// Overlap@5 with the `min_overlap_at_5` line: queries left of it count as low overlap.
    private func overlapAt5Histogram() -> String {
        var counts = [Int](repeating: 0, count: 6)
        for q in queries { counts[min(5, max(0, q.overlapAt5))] += 1 }
        let t = thresholds.minOverlapAt5
        let judged = sameEmbedder ? "low when left of the line (at most \(fmt(thresholds.maxLowOverlapFraction * 100))% of queries)"
            : "not judged: the embedder changed"
        return figure("Overlap@5 per query; min_overlap_at_5 = \(fmt(t)): \(judged)",
                      bars(series: [(counts.map(Double.init), "#0969da")], labels: (0...5).map(String.init), xTitle: "overlap@5", yTitle: "queries",
                           // Below t is low, so the line sits at the first bar that is not: ⌈t⌉.
                           lines: [(position: min(6, max(0, t.rounded(.up))), label: "min_overlap_at_5", color: "#cf222e")]))
    }

    private func scoreDistributions() -> String {
        let a = queries.compactMap(\.oldTop1), b = queries.compactMap(\.newTop1)
        guard let lo = (a + b).min(), let hi = (a + b).max() else { return "" }
        let bins = 20
        let width = max(hi - lo, 1e-9) / Double(bins)
        func hist(_ v: [Double]) -> [Double] {
            var h = [Double](repeating: 0, count: bins)
            for x in v { h[min(bins - 1, Int((x - lo) / width))] += 1 }
            return h
        }
        let labels = (0..<bins).map { i in String(format: "%.2f", lo + Double(i) * width) }
        return figure("Top-1 score distribution: old (blue) vs new (orange)",
                      bars(series: [(hist(a), "#0969da"), (hist(b), "#fb8500")], labels: labels, xTitle: "top-1 score", yTitle: "queries"))
    }

    /// The per-query nDCG difference, with 0, the tolerated mean drop and the bootstrap interval of the mean.
    /// Unchanged queries get a bar of their own in the middle, between ten bins of drops and ten of gains.
    private func ndcgDeltaHistogram() -> String {
        let deltas = queries.compactMap(\.ndcgDelta)
        guard !deltas.isEmpty else { return "" }
        let epsilon = 1e-12
        var counts = [Double](repeating: 0, count: 21)
        for d in deltas { counts[Self.deltaBin(d, epsilon: epsilon)] += 1 }
        // A value's position in bar units: drops fill bars 0–9, 0 is the middle of bar 10, gains fill bars 11–20.
        func position(_ v: Double) -> Double {
            if abs(v) <= epsilon { return 10.5 }
            return v < 0 ? (max(-1, v) + 1) / 0.1 : 11 + min(1, v) / 0.1
        }
        var lines: [(position: Double, label: String, color: String)] = [
            (position(0), "0", "#57606a"), (position(-thresholds.maxNDCGDrop), "−max_ndcg_drop", "#cf222e"),
        ]
        var band: (Double, Double)?
        var caption = "nDCG@\(k) change per query (new − old), \(deltas.count) labelled queries; the middle bar is the unchanged ones"
        if let mean = changes.meanDifference, let ci = changes.interval {
            lines.append((position(mean), "mean", "#0969da"))
            band = (position(ci.low), position(ci.high))
            caption += String(format: "; mean %+.4f, 95%% interval [%+.4f, %+.4f] shaded; red: the tolerated mean drop", mean, ci.low, ci.high)
        }
        let labels: [String] = (0..<21).map { (i: Int) -> String in
            if i == 10 { return "0" }
            let edge: Double = i < 10 ? -1 + Double(i) * 0.1 : Double(i - 10) * 0.1
            return String(format: "%+.1f", edge)
        }
        return figure(caption, bars(series: [(counts, "#8250df")], labels: labels, xTitle: "nDCG@\(k) new − old", yTitle: "queries",
                                    lines: lines, band: band))
    }

    /// The bar of a difference: 0–9 for drops (−1…0), 10 for unchanged, 11–20 for gains (0…1).
    static func deltaBin(_ d: Double, epsilon: Double) -> Int {
        if abs(d) <= epsilon { return 10 }
        if d < 0 { return min(9, max(0, Int(((d + 1) / 0.1 + 1e-9).rounded(.down)))) }
        return min(20, max(11, 11 + Int((d / 0.1 - 1e-9).rounded(.down))))
    }

    /// Old vs new nDCG per query. Points are jittered (by query id, so the chart is reproducible) and piles of
    /// identical points carry their count, so 300 queries at (0, 0) show as 300.
    private func ndcgScatter() -> String {
        let pts = queries.compactMap { q -> (id: String, old: Double, new: Double)? in
            guard let o = q.old?.ndcg, let n = q.new?.ndcg else { return nil }
            return (q.id, o, n)
        }
        let size = 320.0, pad = 40.0, jitter = 0.018
        func x(_ v: Double) -> Double { pad + min(1, max(0, v)) * size }
        func y(_ v: Double) -> Double { pad + (1 - min(1, max(0, v))) * size }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(size + 2 * pad))\" height=\"\(Int(size + 2 * pad))\" role=\"img\">"
        svg += "<rect x=\"\(pad)\" y=\"\(pad)\" width=\"\(size)\" height=\"\(size)\" fill=\"none\" stroke=\"#888\"/>"
        svg += "<line x1=\"\(x(0))\" y1=\"\(y(0))\" x2=\"\(x(1))\" y2=\"\(y(1))\" stroke=\"#bbb\" stroke-dasharray=\"4 4\"/>"
        // new = old − max_ndcg_drop: a query below this line dropped by more than the collection may drop on average.
        let t = thresholds.maxNDCGDrop
        if t > 0 && t < 1 {
            svg += "<line x1=\"\(x(t))\" y1=\"\(y(0))\" x2=\"\(x(1))\" y2=\"\(y(1 - t))\" stroke=\"#cf222e\" stroke-dasharray=\"6 3\"><title>new = old − max_ndcg_drop (\(fmt(t)))</title></line>"
        }
        var piles: [String: (x: Double, y: Double, count: Int)] = [:]
        for p in pts {
            let (jx, jy) = Self.jitter(p.id)
            svg += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"#0969da\" fill-opacity=\"0.3\"><title>%@: %.3f → %.3f</title></circle>",
                          x(p.old) + jx * jitter * size, y(p.new) + jy * jitter * size, esc(p.id), p.old, p.new)
            let key = String(format: "%.4f,%.4f", p.old, p.new)
            piles[key, default: (x(p.old), y(p.new), 0)].count += 1
        }
        // Label the big piles, largest first, skipping any that would overlap a label already placed.
        var placed: [(x: Double, y: Double)] = []
        let minimum = max(5, pts.count / 50)
        for pile in piles.values.sorted(by: { ($0.count, $0.x, $0.y) > ($1.count, $1.x, $1.y) }) where pile.count >= minimum {
            let lx = min(pad + size - 12, max(pad + 12, pile.x)), ly = min(pad + size - 12, max(pad + 14, pile.y - 10))
            guard !placed.contains(where: { abs($0.x - lx) < 28 && abs($0.y - ly) < 14 }) else { continue }
            placed.append((lx, ly))
            svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" font-weight=\"bold\" fill=\"#24292f\" text-anchor=\"middle\">%d</text>",
                          lx, ly, pile.count)
        }
        svg += "<text x=\"\(pad + size / 2)\" y=\"\(pad + size + 30)\" text-anchor=\"middle\" font-size=\"12\">old nDCG@\(k)</text>"
        svg += "<text x=\"12\" y=\"\(pad + size / 2)\" font-size=\"12\" transform=\"rotate(-90 12 \(pad + size / 2))\" text-anchor=\"middle\">new nDCG@\(k)</text>"
        svg += "<text x=\"\(pad - 4)\" y=\"\(pad + size + 12)\" font-size=\"10\" text-anchor=\"end\">0</text><text x=\"\(pad + size)\" y=\"\(pad + size + 12)\" font-size=\"10\">1</text>"
        svg += "<text x=\"\(pad - 4)\" y=\"\(pad + 4)\" font-size=\"10\" text-anchor=\"end\">1</text></svg>"
        return figure("Per-query nDCG@\(k): old (x) vs new (y), \(pts.count) labelled queries, jittered; numbers count identical points. "
                      + "Above the grey diagonal improved; below the red line dropped by more than max_ndcg_drop.", svg)
    }

    /// A deterministic offset in [−1, 1]² from the query id (FNV-1a; Swift's `hashValue` changes per run).
    static func jitter(_ id: String) -> (Double, Double) {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in id.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        let a = Double(h & 0xFFFF) / 65535, b = Double((h >> 16) & 0xFFFF) / 65535
        return (a * 2 - 1, b * 2 - 1)
    }

    /// Bars for one or more series; `lines` are vertical markers at a position in bar units (0 = the first
    /// bar's left edge), `band` a shaded range in the same units.
    private func bars(series: [([Double], String)], labels: [String], xTitle: String, yTitle: String,
                      lines: [(position: Double, label: String, color: String)] = [], band: (Double, Double)? = nil) -> String {
        let w = 460.0, h = 220.0, pad = 40.0
        let n = labels.count
        let maxV = max(1, series.flatMap(\.0).max() ?? 1)
        let slot = w / Double(max(n, 1))
        let barW = slot * 0.8 / Double(series.count)
        func x(_ position: Double) -> Double { pad + min(Double(n), max(0, position)) * slot }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w + 2 * pad))\" height=\"\(Int(h + 2 * pad))\" role=\"img\">"
        if let band {
            svg += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#0969da\" fill-opacity=\"0.12\"/>",
                          x(band.0), pad, max(1, x(band.1) - x(band.0)), h)
        }
        svg += "<line x1=\"\(pad)\" y1=\"\(pad + h)\" x2=\"\(pad + w)\" y2=\"\(pad + h)\" stroke=\"#888\"/>"
        for (si, (values, color)) in series.enumerated() {
            for (i, v) in values.enumerated() where v > 0 {
                let bh = v / maxV * h
                svg += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%@\" fill-opacity=\"0.8\"><title>%@: %d</title></rect>",
                              pad + Double(i) * slot + slot * 0.1 + Double(si) * barW, pad + h - bh, barW, bh, color, esc(labels[i]), Int(v))
            }
        }
        for (i, line) in lines.enumerated() {
            let lx = x(line.position)
            svg += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%@\" stroke-width=\"1.5\" stroke-dasharray=\"5 3\"/>",
                          lx, pad - 4, lx, pad + h, line.color)
            svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" fill=\"%@\" text-anchor=\"middle\">%@</text>",
                          lx, pad - 8 - Double(i % 2) * 11, line.color, esc(line.label))
        }
        let every = max(1, n / 10)
        for (i, l) in labels.enumerated() where i % every == 0 {
            svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"middle\">%@</text>", pad + (Double(i) + 0.5) * slot, pad + h + 14, esc(l))
        }
        svg += "<text x=\"\(pad - 6)\" y=\"\(pad + 4)\" font-size=\"10\" text-anchor=\"end\">\(Int(maxV))</text>"
        svg += "<text x=\"\(pad + w / 2)\" y=\"\(pad + h + 32)\" font-size=\"12\" text-anchor=\"middle\">\(esc(xTitle))</text>"
        svg += "<text x=\"12\" y=\"\(pad + h / 2)\" font-size=\"12\" transform=\"rotate(-90 12 \(pad + h / 2))\" text-anchor=\"middle\">\(esc(yTitle))</text></svg>"
        return svg
    }

    // MARK: - Per-query changes

    private func changesSection() -> String {
        var out = "<h2>Per-query changes</h2>\n<p>\(esc(changes.summary(k: k)))</p>\n"
        guard !changes.drops.isEmpty || !changes.gains.isEmpty else { return out + "<p>No query changed.</p>\n" }
        out += "<p>✓ and green: a document judged relevant\(changes.labelled ? "" : " (here: the document the query was sampled from)").</p>\n"
        func section(_ title: String, _ list: [QueryChange]) {
            guard !list.isEmpty else { return }
            out += "<h3>\(esc(title))</h3>\n"
            for c in list {
                var measure = "overlap@\(k) \(c.overlap)"
                if let o = c.old, let n = c.new, let d = c.delta {
                    measure = String(format: "nDCG@%d %.4f → %.4f <span class=\"%@\">(%+.4f)</span>", k, o, n, d < 0 ? "down" : "up", d)
                }
                out += "<div class=\"change\"><p><b>\(esc(c.id))</b>: \(esc(c.text)) — \(measure)</p>\n"
                out += "<table><tr><th style=\"width:2em\">#</th><th>old top-\(Self.shownHits)</th><th>new top-\(Self.shownHits)</th></tr>\n"
                for i in 0..<max(c.oldHits.count, c.newHits.count) {
                    out += "<tr><td>\(i + 1)</td>\(hitCell(c.oldHits, i))\(hitCell(c.newHits, i))</tr>\n"
                }
                out += "</table></div>\n"
            }
        }
        section(changes.labelled ? "Largest drops" : "Most changed (lowest overlap@\(k))", changes.drops)
        section("Largest gains", changes.gains)
        return out
    }

    private func hitCell(_ hits: [Hit], _ i: Int) -> String {
        guard i < hits.count else { return "<td></td>" }
        let h = hits[i]
        return "<td\(h.isMarked ? " class=\"rel\"" : "")><b>\(esc(h.document))</b> <span class=\"snippet\">\(esc(h.snippet))</span></td>"
    }

    private func figure(_ caption: String, _ svg: String) -> String {
        "<figure>\(svg)<figcaption>\(esc(caption))</figcaption></figure>\n"
    }

    /// Writes the report in the format the file's extension names (`.json`, `.md`, `.html`).
    ///
    /// - Throws: ``OperationsError`` (`invalidInput`) for another extension; (`storage`) when writing fails.
    public func write(to path: String) throws(OperationsError) {
        let text: String
        switch (path as NSString).pathExtension.lowercased() {
        case "json": text = json.prettyJSONText + "\n"
        case "md", "markdown": text = markdown
        case "html", "htm": text = html
        default: throw OperationsError(.invalidInput, "report file '\(path)' must end in .json, .md or .html")
        }
        do { try text.write(toFile: path, atomically: true, encoding: .utf8) } catch {
            throw OperationsError(.invalidInput, "cannot write report '\(path)': \(fileErrorReason(error))")
        }
    }
}

func esc<S: StringProtocol>(_ s: S) -> String {
    var out = ""
    for ch in s {
        switch ch {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.append(ch)
        }
    }
    return out
}

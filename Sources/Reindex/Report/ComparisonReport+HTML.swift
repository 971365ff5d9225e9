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
        var charts = overlapHistogram() + scoreDistributions()
        if labelled { charts += ndcgScatter() }
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
            figure{display:inline-block;margin:1em 1em 1em 0;vertical-align:top}figcaption{font-size:.9em;color:#57606a}
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

    private func ndcgScatter() -> String {
        let pts = queries.compactMap { q -> (Double, Double)? in
            guard let o = q.old?.ndcg, let n = q.new?.ndcg else { return nil }
            return (o, n)
        }
        let size = 320.0, pad = 40.0
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(size + 2 * pad))\" height=\"\(Int(size + 2 * pad))\" role=\"img\">"
        svg += "<rect x=\"\(pad)\" y=\"\(pad)\" width=\"\(size)\" height=\"\(size)\" fill=\"none\" stroke=\"#888\"/>"
        svg += "<line x1=\"\(pad)\" y1=\"\(pad + size)\" x2=\"\(pad + size)\" y2=\"\(pad)\" stroke=\"#bbb\" stroke-dasharray=\"4 4\"/>"
        for (o, n) in pts {
            svg += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#0969da\" fill-opacity=\"0.35\"/>", pad + o * size, pad + (1 - n) * size)
        }
        svg += "<text x=\"\(pad + size / 2)\" y=\"\(pad + size + 30)\" text-anchor=\"middle\" font-size=\"12\">old nDCG@\(k)</text>"
        svg += "<text x=\"12\" y=\"\(pad + size / 2)\" font-size=\"12\" transform=\"rotate(-90 12 \(pad + size / 2))\" text-anchor=\"middle\">new nDCG@\(k)</text>"
        svg += "<text x=\"\(pad - 4)\" y=\"\(pad + size + 12)\" font-size=\"10\" text-anchor=\"end\">0</text><text x=\"\(pad + size)\" y=\"\(pad + size + 12)\" font-size=\"10\">1</text>"
        svg += "<text x=\"\(pad - 4)\" y=\"\(pad + 4)\" font-size=\"10\" text-anchor=\"end\">1</text></svg>"
        return figure("Per-query nDCG@\(k): old (x) vs new (y); points above the diagonal improved (\(pts.count) labelled queries)", svg)
    }

    private func bars(series: [([Double], String)], labels: [String], xTitle: String, yTitle: String) -> String {
        let w = 460.0, h = 220.0, pad = 40.0
        let n = labels.count
        let maxV = max(1, series.flatMap(\.0).max() ?? 1)
        let slot = w / Double(max(n, 1))
        let barW = slot * 0.8 / Double(series.count)
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w + 2 * pad))\" height=\"\(Int(h + 2 * pad))\" role=\"img\">"
        svg += "<line x1=\"\(pad)\" y1=\"\(pad + h)\" x2=\"\(pad + w)\" y2=\"\(pad + h)\" stroke=\"#888\"/>"
        for (si, (values, color)) in series.enumerated() {
            for (i, v) in values.enumerated() where v > 0 {
                let bh = v / maxV * h
                svg += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%@\" fill-opacity=\"0.8\"><title>%@: %d</title></rect>",
                              pad + Double(i) * slot + slot * 0.1 + Double(si) * barW, pad + h - bh, barW, bh, color, esc(labels[i]), Int(v))
            }
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

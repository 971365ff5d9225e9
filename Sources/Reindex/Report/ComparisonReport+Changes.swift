import Foundation
import SwitchyardJSON

extension ComparisonReport.Changes {
    /// The changes for machines: statistics, then the listed queries with both sides' top results.
    public var json: JSONValue {
        func num(_ v: Double?) -> JSONValue { v.map { .double($0) } ?? .null }
        func hit(_ h: ComparisonReport.Hit) -> JSONValue {
            ["document": .string(h.document), "snippet": .string(h.snippet), "relevance": h.relevance.map { .int(Int64($0)) } ?? .null,
             "query_source": .bool(h.isSource)]
        }
        func change(_ c: ComparisonReport.QueryChange) -> JSONValue {
            ["id": .string(c.id), "text": .string(c.text), "old": num(c.old), "new": num(c.new), "delta": num(c.delta),
             "overlap_at_k": .int(Int64(c.overlap)), "old_top": .array(c.oldHits.map(hit)), "new_top": .array(c.newHits.map(hit))]
        }
        var out: [String: JSONValue] = [
            "metric": .string(labelled ? "ndcg_at_k" : "overlap_at_k"),
            "largest_drops": .array(drops.map(change)), "largest_gains": .array(gains.map(change)),
        ]
        if labelled {
            out["improved"] = .int(Int64(improved))
            out["unchanged"] = .int(Int64(unchanged))
            out["worsened"] = .int(Int64(worsened))
            out["mean_difference"] = num(meanDifference)
            out["ci95"] = interval.map {
                ["low": .double($0.low), "high": .double($0.high), "level": .double($0.level), "resamples": .int(Int64($0.resamples)),
                 "excludes_zero": .bool($0.excludesZero), "judgeable": .bool(judgeable), "method": "paired bootstrap, percentile"]
            } ?? .null
        } else {
            out["identical"] = .int(Int64(identical))
            out["partial"] = .int(Int64(partial))
            out["disjoint"] = .int(Int64(disjoint))
        }
        return .object(out)
    }

    /// How many queries the shares are of.
    var total: Int { labelled ? improved + unchanged + worsened : identical + partial + disjoint }

    /// One sentence with the shares (and, with labels, the interval and what it means).
    func summary(k: Int) -> String {
        let n = max(total, 1)
        func share(_ count: Int, _ what: String) -> String { "\(count) \(what) (\(String(format: "%.1f", 100 * Double(count) / Double(n)))%)" }
        guard labelled else {
            return "Top-\(k) lists per query (no labels, so no direction): \(share(identical, "identical")), \(share(partial, "partly overlapping")), "
                + "\(share(disjoint, "disjoint"))."
        }
        var s = "nDCG@\(k) per query: \(share(improved, "improved")), \(share(unchanged, "unchanged")), \(share(worsened, "worsened"))."
        if let mean = meanDifference, let ci = interval {
            s += String(format: " Mean difference (new − old) %+.4f, %.0f%% confidence interval [%+.4f, %+.4f] (paired bootstrap, %d resamples): ",
                        mean, ci.level * 100, ci.low, ci.high, ci.resamples)
            if !judgeable {
                s += "too few queries to judge (\(total) labelled, \(improved + worsened) changed; "
                    + "at least \(Self.minimumQueries) and \(Self.minimumChanged) are needed)."
            } else {
                s += ci.excludesZero ? (ci.high < 0 ? "the drop is unlikely to be chance." : "the gain is unlikely to be chance.")
                    : "the interval includes 0, so the data do not show a real change."
            }
        }
        return s
    }

    func markdown(k: Int) -> String {
        var out = "## Per-query changes\n\n\(summary(k: k))\n\n"
        guard !drops.isEmpty || !gains.isEmpty else { return out + "No query changed.\n" }
        out += "✓ marks a document judged relevant\(labelled ? "" : " (here: the document the query was sampled from)").\n\n"
        func section(_ title: String, _ list: [ComparisonReport.QueryChange]) {
            guard !list.isEmpty else { return }
            out += "### \(title)\n\n"
            for c in list {
                out += "**\(escape(c.id))**: \(escape(c.text)) — "
                if let o = c.old, let n = c.new, let d = c.delta {
                    out += String(format: "nDCG@%d %.4f → %.4f (%+.4f)", k, o, n, d)
                } else {
                    out += "overlap@\(k) \(c.overlap)"
                }
                out += "\n\n| # | old | new |\n|---|---|---|\n"
                for i in 0..<max(c.oldHits.count, c.newHits.count) {
                    out += "| \(i + 1) | \(cell(c.oldHits, i)) | \(cell(c.newHits, i)) |\n"
                }
                out += "\n"
            }
        }
        section(labelled ? "Largest drops" : "Most changed (lowest overlap@\(k))", drops)
        section("Largest gains", gains)
        return out
    }

    private func cell(_ hits: [ComparisonReport.Hit], _ i: Int) -> String {
        guard i < hits.count else { return "" }
        let h = hits[i]
        return "\(h.isMarked ? "✓ " : "")**\(escape(h.document))** \(escape(h.snippet.prefix(90)))"
    }

    /// Table-safe, and inert in viewers that render inline HTML.
    private func escape<S: StringProtocol>(_ s: S) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
    }
}

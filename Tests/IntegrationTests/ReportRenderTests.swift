import Foundation
import SwitchyardJSON
import Testing
import _SwitchyardTestSupport

/// The HTML comparison report in a real browser: headless Chromium loads it, a probe script (added to a copy,
/// never to the report) records every error and measures each chart as laid out.
@Suite("The HTML report in headless Chromium")
struct ReportRenderTests {
    static let chromium: String? = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Records script errors, failed loads and console errors or warnings; after `load`, writes what the page
    /// shows into `<pre id="probe">` as JSON.
    static let probe = """
        window.__errors = [];
        window.addEventListener('error', e => { __errors.push('error: ' + (e.message || (e.target && (e.target.src || e.target.href)) || e.type)); }, true);
        for (const level of ['error', 'warn']) { console[level] = (...a) => { __errors.push(level + ': ' + a.join(' ')); }; }
        window.addEventListener('load', () => {
          const charts = [...document.querySelectorAll('figure svg')].map(svg => {
            const r = svg.getBoundingClientRect(), b = svg.getBBox(), st = getComputedStyle(svg);
            return {width: r.width, height: r.height, contentWidth: b.width, contentHeight: b.height,
                    shapes: svg.querySelectorAll('rect,circle,line').length,
                    visible: st.display !== 'none' && st.visibility === 'visible' && st.opacity !== '0'};
          });
          const pre = document.createElement('pre');
          pre.id = 'probe';
          pre.textContent = JSON.stringify({errors: __errors, charts,
            headings: [...document.querySelectorAll('h2, h3')].map(h => h.textContent),
            changes: document.querySelectorAll('.change').length, marked: document.querySelectorAll('.change td.rel').length});
          document.body.appendChild(pre);
        });
        """

    @Test("a rejected switch's report renders with no console errors, its five charts and the per-query drops",
          .enabled(if: chromium != nil, "Chromium is not installed (apt-get install chromium): the HTML report was not rendered in a browser"))
    func rendersInChromium() throws {
        let chromium = try #require(Self.chromium)
        try withTemporaryDirectory { dir in
            let report = dir.appending("report.html")
            let demo = try CLI.run(["demo", "--dir", dir.appending("store"), "--dataset", ReindexCLITests.wordnet, "--readers", "1",
                                    "--old", "hash-v2", "--new", "hash:dim=8", "--report", report])
            #expect(demo.status == 1, "\(demo.stderr)")
            let html = try String(contentsOfFile: report, encoding: .utf8)
            #expect(html.components(separatedBy: "<head>").count == 2)
            let probed = dir.appending("probed.html")
            try html.replacingOccurrences(of: "<head>", with: "<head><script>\(Self.probe)</script>")
                .write(toFile: probed, atomically: true, encoding: .utf8)

            let browser = try Self.render(chromium, probed, profile: dir.appending("profile"))
            // The report runs no script and the probe logs nothing: any console line is the page's own.
            let console = browser.stderr.split(separator: "\n").filter { $0.contains(":CONSOLE") }
            #expect(console.isEmpty, "\(console)")
            let page = try Self.probeResult(browser.dom)
            #expect(page["errors"]?.arrayValue == [], "\(page["errors"] ?? .null)")
            let charts = page["charts"]?.arrayValue ?? []
            #expect(charts.count == 5, "\(charts)")
            for chart in charts.compactMap(\.objectValue) {
                #expect(chart["visible"] == .bool(true))
                #expect((chart["width"]?.numberValue ?? 0) >= 300 && (chart["height"]?.numberValue ?? 0) >= 250, "\(chart)")
                #expect((chart["contentWidth"]?.numberValue ?? 0) > 100 && (chart["contentHeight"]?.numberValue ?? 0) > 100, "\(chart)")
                #expect((chart["shapes"]?.numberValue ?? 0) >= 3, "\(chart)")
            }
            let headings = page["headings"]?.arrayValue?.compactMap(\.stringValue) ?? []
            for h in ["Checks", "Sides", "Charts", "Per-query changes", "Largest drops"] { #expect(headings.contains(h), "\(headings)") }
            #expect((page["changes"]?.numberValue ?? 0) >= 20 && (page["marked"]?.numberValue ?? 0) >= 20, "\(page)")
        }
    }

    /// Loads `file` in headless Chromium and returns the DOM after `load`, and Chromium's log.
    static func render(_ chromium: String, _ file: String, profile: String) throws -> (dom: String, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: chromium)
        // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        p.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=\(profile)",
                       "--enable-logging=stderr", "--v=0", "--window-size=1200,900", "--dump-dom", URL(fileURLWithPath: file).absoluteString]
        let out = dir(profile).appending("dom.txt"), err = dir(profile).appending("stderr.txt")
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: err, contents: nil)
        try CLI.launching {
            p.standardOutput = FileHandle(forWritingAtPath: out)
            p.standardError = FileHandle(forWritingAtPath: err)
            p.standardInput = FileHandle.nullDevice
            try p.run()
        }
        let deadline = Date().addingTimeInterval(120)
        while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        if p.isRunning { p.terminate() }
        p.waitUntilExit()
        return (try String(contentsOfFile: out, encoding: .utf8), try String(contentsOfFile: err, encoding: .utf8))
    }

    private static func dir(_ profile: String) -> NSString { ((profile as NSString).deletingLastPathComponent as NSString) }

    /// The probe's JSON, from the serialised DOM (text nodes escape `&`, `<` and `>`).
    static func probeResult(_ dom: String) throws -> [String: JSONValue] {
        let start = try #require(dom.range(of: "<pre id=\"probe\">"), "the probe did not run: \(dom.prefix(300))")
        let end = try #require(dom.range(of: "</pre>", range: start.upperBound..<dom.endIndex))
        let text = String(dom[start.upperBound..<end.lowerBound])
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&nbsp;", with: "\u{A0}").replacingOccurrences(of: "&amp;", with: "&")
        return try #require(try JSONParser.parse(text).objectValue)
    }
}

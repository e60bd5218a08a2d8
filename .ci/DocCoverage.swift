// Fails unless every public symbol declared in Sources/ has a documentation comment.
//
//   swift .ci/DocCoverage.swift <symbol-graph-dir>
//
// Reads the compiler's symbol graphs (`-emit-symbol-graph`, public and above, as `.ci/docs`
// builds them). A symbol counts when the graph gives it a source location inside this package's
// `Sources/`; members the compiler synthesizes (`!=`, `init(from:)`, `hashValue`, …) and the
// standard library's default implementations have none, and are not ours to document. A symbol
// is documented when its comment begins with a summary (DocC's abstract), not with a callout. Prints one line
// per module (documented / total) and every undocumented symbol as `path:line: kind name`.
import Foundation

let arguments = CommandLine.arguments
guard arguments.count == 2 else {
    FileHandle.standardError.write(Data("usage: swift .ci/DocCoverage.swift <symbol-graph-dir>\n".utf8))
    exit(2)
}
let directory = URL(fileURLWithPath: arguments[1])
let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
    .filter { $0.hasSuffix(".symbols.json") }.sorted()
guard !files.isEmpty else {
    FileHandle.standardError.write(Data("FAIL: no symbol graphs in \(directory.path)\n".utf8))
    exit(1)
}

var missing: [String] = []
var seen = Set<String>()
for file in files {
    guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent(file).path),
          let graph = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
          let symbols = graph["symbols"] as? [[String: Any]] else {
        FileHandle.standardError.write(Data("FAIL: \(file) is not a symbol graph\n".utf8))
        exit(1)
    }
    var total = 0, documented = 0
    for symbol in symbols {
        let identifier = (symbol["identifier"] as? [String: Any])?["precise"] as? String ?? ""
        guard !identifier.contains("::SYNTHESIZED::"),
              let location = symbol["location"] as? [String: Any],
              let uri = location["uri"] as? String, let range = uri.range(of: "/Sources/") else { continue }
        let line = ((location["position"] as? [String: Any])?["line"] as? Int ?? 0) + 1
        let path = "Sources/" + uri[range.upperBound...]
        // an extension's members appear in the extending module's graph and in `Module@Other`'s
        guard seen.insert(identifier).inserted else { continue }
        total += 1
        let lines = ((symbol["docComment"] as? [String: Any])?["lines"] as? [[String: Any]]) ?? []
        // DocC's abstract: the first paragraph, unless the comment starts with a callout
        // (`- Throws:`, `- Parameter …:`, `- Returns:`), which leaves the summary empty
        let first = lines.lazy.compactMap { ($0["text"] as? String)?.trimmingCharacters(in: .whitespaces) }
            .first { !$0.isEmpty } ?? ""
        if first.isEmpty || first.hasPrefix("- ") {
            let kind = ((symbol["kind"] as? [String: Any])?["displayName"] as? String ?? "symbol").lowercased()
            let name = (symbol["pathComponents"] as? [String])?.joined(separator: ".") ?? identifier
            missing.append("\(path):\(line): \(kind) \(name)")
        } else {
            documented += 1
        }
    }
    if total > 0 { print("\(file.replacingOccurrences(of: ".symbols.json", with: "")): \(documented) of \(total) public symbols documented") }
}
if missing.isEmpty {
    print("every public symbol is documented")
} else {
    print("FAIL: \(missing.count) public symbols have no documentation comment:")
    for line in missing.sorted() { print("  " + line) }
    exit(1)
}

// Progress of long steps, on stderr so that stdout stays the report: on a terminal one line
// redrawn in place (a bar, the count, the elapsed time and an estimate of the time left); when
// stderr is a file or a pipe, a plain line every ten seconds and one at the end.
import Foundation

final class Progress {
    private let label: String
    private let total: Int
    private let start = Date()
    private let terminal = isatty(STDERR_FILENO) == 1
    private var lastLine = Date.distantPast
    private let quiet: Bool

    /// `quiet`: print nothing (for steps that turn out short, or when asked).
    init(_ label: String, total: Int, quiet: Bool = ProcessInfo.processInfo.environment["HEAR_QUIET"] == "1") {
        self.label = label
        self.total = total
        self.quiet = quiet || total <= 0
    }

    /// Says that `done` of the `total` items are finished.
    func update(_ done: Int) {
        guard !quiet else { return }
        let elapsed = Date().timeIntervalSince(start)
        let left = done > 0 ? elapsed / Double(done) * Double(total - done) : nil
        if terminal {
            let width = 24, filled = total > 0 ? width * done / total : 0
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            let estimate = left.map { ", about \(Progress.clock($0)) left" } ?? ""
            write("\r\(label) [\(bar)] \(done)/\(total), \(Progress.clock(elapsed))\(estimate)\u{1B}[K")
        } else if Date().timeIntervalSince(lastLine) >= 10 || done == total {
            lastLine = Date()
            let estimate = left.map { String(format: ", about %.0f s left", $0) } ?? ""
            write(String(format: "%@: %d of %d after %.0f s%@\n", label, done, total, elapsed, estimate))
        }
    }

    /// Ends the in-place line on a terminal.
    func finish() {
        guard !quiet, terminal else { return }
        write("\r\u{1B}[K")
    }

    /// A one-off status line for a step without a count, on a terminal only (in a log, the
    /// result line that follows says the same, and an error stays one line).
    static func note(_ text: String) {
        guard isatty(STDERR_FILENO) == 1, ProcessInfo.processInfo.environment["HEAR_QUIET"] != "1" else { return }
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    private func write(_ text: String) { FileHandle.standardError.write(Data(text.utf8)) }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}

import Foundation

/// Byte-level reading of numeric CSV files (the test set has 875 520 cells, a model up to
/// 400 000): lines split at `\n` (a preceding `\r` dropped), cells at commas, each number parsed
/// by the C library's correctly rounded `strtod` in place, without a string per cell.
struct NumericCSV {
    /// The file's bytes followed by a NUL, so that `strtod` always stops inside the buffer.
    private let bytes: [UInt8]
    let path: String
    /// The non-blank lines: 1-based number and byte range (without the line end).
    let lines: [(number: Int, range: Range<Int>)]

    /// The largest CSV file read (the paper's test set is 6 MB).
    static let maximumBytes = 1 << 30

    init(contentsOf url: URL) throws(DataError) {
        let bytes: [UInt8]
        switch FileInput.read(url.path, limit: NumericCSV.maximumBytes) {
        case let .success(b): bytes = b
        case let .failure(failure):
            if failure.isMissing { throw .cannotRead(path: url.path, reason: failure.description) }
            throw .inconsistent(path: url.path, reason: failure.description)
        }
        if bytes.starts(with: Array("HEARFILE".utf8)) {
            throw .inconsistent(path: url.path, reason: "this is a HEAR key or ciphertext file, not a CSV file (are two arguments swapped?)")
        }
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw .inconsistent(path: url.path, reason: "the file is not UTF-8 text, so not a CSV file")
        }
        self.init(bytes: bytes, path: url.path)
    }

    init(bytes: [UInt8], path: String) {
        self.bytes = bytes + [0]
        self.path = path
        var lines: [(number: Int, range: Range<Int>)] = []
        var start = 0, number = 1
        let end = bytes.count
        while start <= end {
            var stop = start
            while stop < end && bytes[stop] != UInt8(ascii: "\n") { stop += 1 }
            var last = stop
            if last > start && bytes[last - 1] == UInt8(ascii: "\r") { last -= 1 }
            if (start..<last).contains(where: { bytes[$0] != UInt8(ascii: " ") && bytes[$0] != UInt8(ascii: "\t") }) {
                lines.append((number, start..<last))
            }
            start = stop + 1
            number += 1
        }
        self.lines = lines
    }

    /// The text of a byte range (for messages and headers).
    func text(_ range: Range<Int>) -> String { String(decoding: bytes[range], as: UTF8.self) }

    /// The byte ranges of a line's cells, blanks around each cell trimmed.
    func cells(_ range: Range<Int>) -> [Range<Int>] {
        var cells: [Range<Int>] = []
        var start = range.lowerBound
        while true {
            var stop = start
            while stop < range.upperBound && bytes[stop] != UInt8(ascii: ",") { stop += 1 }
            var a = start, b = stop
            while a < b && (bytes[a] == UInt8(ascii: " ") || bytes[a] == UInt8(ascii: "\t")) { a += 1 }
            while b > a && (bytes[b - 1] == UInt8(ascii: " ") || bytes[b - 1] == UInt8(ascii: "\t")) { b -= 1 }
            cells.append(a..<b)
            if stop >= range.upperBound { return cells }
            start = stop + 1
        }
    }

    /// The finite number a cell holds, or nil.
    func number(_ cell: Range<Int>) -> Double? {
        guard !cell.isEmpty else { return nil }
        return bytes.withUnsafeBufferPointer { buffer -> Double? in
            let start = UnsafeRawPointer(buffer.baseAddress! + cell.lowerBound).assumingMemoryBound(to: CChar.self)
            var end: UnsafeMutablePointer<CChar>?
            let value = strtod(start, &end)
            guard let end, UnsafeRawPointer(end) == UnsafeRawPointer(buffer.baseAddress! + cell.upperBound),
                  value.isFinite else { return nil }
            return value
        }
    }

    /// All cells of a line as finite numbers; the first bad cell is reported with its column.
    func numbers(line: (number: Int, range: Range<Int>)) throws(DataError) -> [Double] {
        let cells = cells(line.range)
        var values: [Double] = []
        values.reserveCapacity(cells.count)
        for (column, cell) in cells.enumerated() {
            guard let value = number(cell) else {
                let shown = cell.isEmpty ? "an empty cell" : "\"\(text(cell).prefix(40))\""
                throw .malformedRow(path: path, line: line.number, reason: "column \(column + 1) is \(shown), not a finite number")
            }
            values.append(value)
        }
        return values
    }
}

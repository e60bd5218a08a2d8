import Foundation

/// A small SVG 1.1 writer for the pictures the command line draws (slot layouts, the trace's
/// precision chart): rectangles, lines, polylines, circles and text, in user units, every text
/// and attribute value escaped. Numbers are written with at most two decimals, so a drawing is
/// the same bytes on every machine.
public struct SVGDocument: Sendable {
    /// The picture's width in user units.
    public let width: Double
    /// The picture's height in user units.
    public let height: Double
    private var elements: [String] = []

    /// An empty picture of `width × height` user units.
    public init(width: Double, height: Double) {
        self.width = width
        self.height = height
    }

    /// A rectangle; `title` becomes a tooltip.
    public mutating func rect(x: Double, y: Double, width: Double, height: Double, fill: String,
                              stroke: String? = nil, title: String? = nil) {
        var element = "<rect x=\"\(Self.number(x))\" y=\"\(Self.number(y))\" width=\"\(Self.number(width))\" "
            + "height=\"\(Self.number(height))\" fill=\"\(Self.escape(fill))\""
        if let stroke { element += " stroke=\"\(Self.escape(stroke))\" stroke-width=\"0.5\"" }
        if let title {
            element += "><title>\(Self.escape(title))</title></rect>"
        } else {
            element += "/>"
        }
        elements.append(element)
    }

    /// A straight line.
    public mutating func line(x1: Double, y1: Double, x2: Double, y2: Double, stroke: String = "#444",
                              width: Double = 1, dashed: Bool = false) {
        elements.append("<line x1=\"\(Self.number(x1))\" y1=\"\(Self.number(y1))\" x2=\"\(Self.number(x2))\" y2=\"\(Self.number(y2))\" "
            + "stroke=\"\(Self.escape(stroke))\" stroke-width=\"\(Self.number(width))\"" + (dashed ? " stroke-dasharray=\"4 3\"" : "") + "/>")
    }

    /// Connected line segments through `points`.
    public mutating func polyline(_ points: [(x: Double, y: Double)], stroke: String, width: Double = 2) {
        guard !points.isEmpty else { return }
        let list = points.map { "\(Self.number($0.x)),\(Self.number($0.y))" }.joined(separator: " ")
        elements.append("<polyline points=\"\(list)\" fill=\"none\" stroke=\"\(Self.escape(stroke))\" stroke-width=\"\(Self.number(width))\"/>")
    }

    /// A circle; `title` becomes a tooltip.
    public mutating func circle(cx: Double, cy: Double, r: Double, fill: String, title: String? = nil) {
        let head = "<circle cx=\"\(Self.number(cx))\" cy=\"\(Self.number(cy))\" r=\"\(Self.number(r))\" fill=\"\(Self.escape(fill))\""
        elements.append(title.map { head + "><title>\(Self.escape($0))</title></circle>" } ?? head + "/>")
    }

    /// Which point of a text run sits at its x coordinate (SVG's `text-anchor`).
    public enum Anchor: String, Sendable {
        /// The text begins at x.
        case start
        /// The text is centred on x.
        case middle
        /// The text ends at x.
        case end
    }

    /// A text run at (x, y) (the baseline); `rotated`: turned 90° counter-clockwise about (x, y).
    public mutating func text(_ string: String, x: Double, y: Double, size: Double = 12, anchor: Anchor = .start,
                              fill: String = "#222", bold: Bool = false, rotated: Bool = false) {
        var element = "<text x=\"\(Self.number(x))\" y=\"\(Self.number(y))\" font-size=\"\(Self.number(size))\" "
            + "text-anchor=\"\(anchor.rawValue)\" fill=\"\(Self.escape(fill))\""
        if bold { element += " font-weight=\"bold\"" }
        if rotated { element += " transform=\"rotate(-90 \(Self.number(x)) \(Self.number(y)))\"" }
        elements.append(element + ">\(Self.escape(string))</text>")
    }

    /// The document: an `<svg>` root with a white background and a sans-serif default font.
    public func rendered() -> String {
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Self.number(width))\" height=\"\(Self.number(height))\" "
            + "viewBox=\"0 0 \(Self.number(width)) \(Self.number(height))\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n"
        out += "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n"
        for element in elements { out += element + "\n" }
        return out + "</svg>\n"
    }

    /// `&`, `<`, `>`, `"` and `'` as entities.
    public static func escape(_ string: String) -> String {
        var out = ""
        for character in string {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    /// At most two decimals, no trailing zeros, no exponent ("12", "3.5", "-0.25").
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        let hundredths = (value * 100).rounded()
        let whole = Int(hundredths) / 100, fraction = abs(Int(hundredths) % 100)
        let sign = hundredths < 0 && whole == 0 ? "-" : ""
        if fraction == 0 { return "\(sign)\(whole)" }
        return fraction % 10 == 0 ? "\(sign)\(whole).\(fraction / 10)" : "\(sign)\(whole).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}

import HETensor

/// Pictures of where a layer's values sit in the slots, drawn from the compiled program's own
/// layout objects (`PackedLayout.entry`, the inverse of the placement the compiler uses), so that
/// a picture cannot drift from the code: `hear plan --draw <layer>` prints them, and
/// `Docs/Packing.md`'s pictures are its output (a test compares them).
///
/// Layers: `input` (the client's ciphertext), `block1` … (the layout a block's convolution reads,
/// after any Fast-HEAR merge, and the layout the block leaves, after its pooling), `dense` (the
/// last block's output and the result: class r's score in slot 512·r).
public struct LayoutDrawing: Sendable {
    /// One picture: a layout and the role it plays in the layer.
    public struct Panel: Sendable {
        /// "in", "out" or "input".
        public var role: String
        /// nil for the result of the dense layer.
        public var layout: PackedLayout?
    }

    /// The layer drawn: "input", "block1", …, or "dense".
    public let layer: String
    /// The pictures, input first.
    public let panels: [Panel]
    /// Classes of the network (the result's slots).
    public let classCount: Int
    let geometry: SlotGeometry

    /// The layers of a program, in order.
    public static func layers(of program: PackedProgram) -> [String] {
        ["input"] + program.convolutionLayouts.indices.map { "block\($0 + 1)" } + ["dense"]
    }

    /// The drawing of `layer`, nil for a name that is not one of `layers(of:)`.
    public init?(program: PackedProgram, layer: String) {
        self.layer = layer
        geometry = program.geometry
        classCount = program.outputSlots.count
        if layer == "input" {
            panels = [Panel(role: "input", layout: program.inputLayout)]
        } else if layer == "dense", let last = program.blockOutputLayouts.last {
            panels = [Panel(role: "in", layout: last), Panel(role: "out", layout: nil)]
        } else if layer.hasPrefix("block"), let t = Int(layer.dropFirst(5)), (1...program.convolutionLayouts.count).contains(t) {
            panels = [Panel(role: "in", layout: program.convolutionLayouts[t - 1]),
                      Panel(role: "out", layout: program.blockOutputLayouts[t - 1])]
        } else {
            return nil
        }
    }

    /// Rows and columns of one block shown: 2D two rows per unit of stride (a whole cell of a
    /// merged layout and the row below it, at most 8) and 8 of the 16 columns; 1D 8 slots.
    static func window(_ layout: PackedLayout) -> (rows: Int, columns: Int) {
        layout.geometry.dimension == .two ? (min(8, 2 * layout.stride), 8) : (1, 8)
    }

    static func label(_ layout: PackedLayout, _ e: (channel: Int, row: Int, column: Int, subposition: Int)) -> String {
        layout.geometry.dimension == .two ? "c\(e.channel):\(e.row),\(e.column)" : "c\(e.channel):\(e.column)"
    }

    /// The channels block b of ciphertext x holds, one per sub-position in use.
    static func channels(_ layout: PackedLayout, ciphertext x: Int, block b: Int) -> [Int] {
        (0..<layout.subpositionCount(ciphertext: x)).compactMap { layout.channel(ciphertext: x, block: b, subposition: $0) }
    }

    static func channelList(_ channels: [Int]) -> String {
        switch channels.count {
        case 0: return "nothing (every slot garbage)"
        case 1: return "channel \(channels[0])"
        case 2...4: return "channels " + channels.map(String.init).joined(separator: ", ")
        default: return "channels \(channels[0]), \(channels[1]), …, \(channels.last!) (\(channels.count), one per sub-position)"
        }
    }

    /// The picture as text (what `hear plan --draw` prints).
    public var text: String {
        var lines: [String] = []
        for panel in panels {
            guard let layout = panel.layout else {
                let slots = (0..<classCount).map { "\(SlotGeometry.blockSize * $0)" }.joined(separator: ", ")
                lines.append("\(panel.role.padding(6))class r's score in slot 512·r (block r, offset 0), r = 0…\(classCount - 1):")
                lines.append("      slots \(slots); every other slot is garbage")
                continue
            }
            lines.append("\(panel.role.padding(6))\(layout)")
            let blocks = geometry.blockCount
            let count = layout.ciphertextCount
            lines.append("      ciphertext 0" + (count > 1 ? " of \(count)" : "") + ", \(blocks) blocks of \(SlotGeometry.blockSize) slots:")
            for b in [0, 1, 2, blocks - 1] {
                if b == blocks - 1 { lines.append("       …") }
                let first = b * SlotGeometry.blockSize, last = first + SlotGeometry.blockSize - 1
                lines.append("       block \(String(b).leftPadding(2))  slots \(String(first).leftPadding(4))–\(String(last).padding(4))  "
                             + Self.channelList(Self.channels(layout, ciphertext: 0, block: b)))
            }
            if count > 1 {
                let step = (Self.channels(layout, ciphertext: 1, block: 0).first ?? 0) - (Self.channels(layout, ciphertext: 0, block: 0).first ?? 0)
                lines.append((count == 2 ? "      ciphertext 1" : "      ciphertext x = 1…\(count - 1)") + ": the same places, channels + \(step)" + (count == 2 ? "" : "·x")
                             + (layout.channels % (step * count) == 0 ? "" : " (the last one partly empty)"))
            }
            let (rows, columns) = Self.window(layout)
            let what = geometry.dimension == .two ? "rows 0–\(rows - 1), columns 0–\(columns - 1)" : "slots 0–\(columns - 1)"
            lines.append("      block 0, \(what) (c<channel>:" + (geometry.dimension == .two ? "<row>,<column>" : "<column>")
                         + "; · holds nothing valid):")
            for (r, row) in layout.picture(rows: rows, columns: columns).split(separator: "\n").enumerated() {
                let prefix = geometry.dimension == .two ? "row \(r) │ " : "│ "
                lines.append("       " + prefix + String(row).trailingSpacesRemoved)
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Fill colours of the sub-positions (a merged layout's interlaced ciphertexts).
    static let palette = ["#8ecae6", "#ffb703", "#90be6d", "#f28482", "#b8b8ff", "#f9c74f", "#43aa8b", "#f8961e",
                          "#a2d2ff", "#e9c46a", "#84a59d", "#f4a261", "#cdb4db", "#ffafcc", "#bde0fe", "#d4a373"]

    /// The picture as SVG: per panel the blocks of ciphertext 0 (channels in each, as a tooltip
    /// too) and the slots of block 0, coloured by sub-position, garbage slots grey.
    public var svg: String {
        let cell = (width: 64.0, height: 22.0)
        let margin = 16.0
        var height = margin
        var width = 0.0
        var parts: [(y: Double, panel: Panel)] = []
        for panel in panels {
            parts.append((height, panel))
            guard let layout = panel.layout else { height += 70; continue }
            let (rows, columns) = Self.window(layout)
            width = max(width, 2 * margin + 70 + Double(columns) * cell.width,
                        2 * margin + 7.4 * Double("\(panel.role): \(layout)".count))   // the title, bold 13 px
            height += 24 + 44 + 24 + Double(rows) * cell.height + 24
        }
        width = max(width, 2 * margin + 16 * 40)
        var svg = SVGDocument(width: width, height: height)
        for (top, panel) in parts {
            var y = top + 14
            guard let layout = panel.layout else {
                svg.text("\(panel.role): class r's score in slot 512·r, r = 0…\(classCount - 1)", x: margin, y: y, size: 13, bold: true)
                for r in 0..<geometry.blockCount {
                    let x = margin + Double(r) * 40
                    svg.rect(x: x, y: y + 10, width: 38, height: 30, fill: r < classCount ? Self.palette[0] : "#eeeeee", stroke: "#888",
                             title: r < classCount ? "slot \(512 * r): class \(r)" : "block \(r): garbage")
                    svg.text(r < classCount ? "class \(r)" : "·", x: x + 19, y: y + 29, size: 9, anchor: .middle)
                }
                continue
            }
            svg.text("\(panel.role): \(layout)", x: margin, y: y, size: 13, bold: true)
            y += 10
            for b in 0..<geometry.blockCount {
                let x = margin + Double(b) * 40
                let held = Self.channels(layout, ciphertext: 0, block: b)
                svg.rect(x: x, y: y, width: 38, height: 34, fill: held.isEmpty ? "#eeeeee" : Self.palette[0], stroke: "#888",
                         title: "block \(b), slots \(512 * b)–\(512 * b + 511): " + Self.channelList(held))
                svg.text("b\(b)", x: x + 19, y: y + 14, size: 9, anchor: .middle)
                svg.text(held.first.map { "c\($0)" + (held.count > 1 ? "+" : "") } ?? "·", x: x + 19, y: y + 28, size: 9, anchor: .middle)
            }
            y += 44 + 16
            let (rows, columns) = Self.window(layout)
            svg.text("block 0 of ciphertext 0, first slots (colour: sub-position; grey: nothing valid)", x: margin, y: y, size: 11)
            y += 8
            let rowWidth = geometry.dimension == .two ? geometry.rowWidth : columns
            for r in 0..<rows {
                svg.text(geometry.dimension == .two ? "row \(r)" : "slots", x: margin, y: y + Double(r) * cell.height + 15, size: 10)
                for c in 0..<columns {
                    let x = margin + 50 + Double(c) * cell.width, yy = y + Double(r) * cell.height
                    let offset = r * rowWidth + c
                    if let e = layout.entry(ciphertext: 0, block: 0, offset: offset) {
                        svg.rect(x: x, y: yy, width: cell.width - 2, height: cell.height - 2,
                                 fill: Self.palette[e.subposition % Self.palette.count], stroke: "#666",
                                 title: "slot \(offset): channel \(e.channel), entry (\(e.row), \(e.column)), sub-position \(e.subposition)")
                        svg.text(Self.label(layout, e), x: x + (cell.width - 2) / 2, y: yy + 14, size: 9, anchor: .middle)
                    } else {
                        svg.rect(x: x, y: yy, width: cell.width - 2, height: cell.height - 2, fill: "#eeeeee", stroke: "#bbbbbb",
                                 title: "slot \(offset): nothing valid")
                    }
                }
            }
        }
        return svg.rendered()
    }
}

extension String {
    /// Padded with spaces on the right to `width` characters (unchanged when longer).
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
    /// Padded with spaces on the left.
    func leftPadding(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
    var trailingSpacesRemoved: String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}

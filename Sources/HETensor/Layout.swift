/// How feature maps sit in the slots of a ciphertext (paper, "Data encryption" and Fig. 5–6).
///
/// The slot vector (n = N/2 slots) is cut into blocks of 512 slots; a block holds one channel.
/// In 2D a channel is a map of 32 rows × 16 columns in row-major order (the 15 joints plus a zero
/// column), in 1D a row of 512 slots (480 values, then zeros). With n = 8192 a ciphertext holds
/// B = 16 channels, channel `B·x + k` of ciphertext x in block k:
///
///     slot = 512·k + row·W_row + column          (W_row = 16 in 2D, 512 in 1D)
///
/// Pooling leaves the valid values sparse: after t poolings of stride 2 the map's entry (i, j) is
/// at row 2^t·i, column 2^t·j (1D: column 2^t·j). Fast-HEAR interlaces several such sparse
/// ciphertexts into the free slots of one: the m-th goes to offset (m / s)·W_row + m % s inside
/// each s × s cell (1D: offset m inside each cell of s slots).
public struct SlotGeometry: Sendable, Equatable, CustomStringConvertible {
    /// Whether the network convolves over frames only (1D) or over frames and joints (2D).
    public enum Dimension: Sendable, Equatable {
        /// 1D: each channel is one row of frames × joints.
        case one
        /// 2D: each channel is a frames × joints map.
        case two
    }

    /// Slots per ciphertext (N/2).
    public var slotCount: Int
    /// The convolution's dimension, which fixes the block shape.
    public var dimension: Dimension
    /// Slots per channel block: one 32 × 16 map (2D) or one row of 512 (1D).
    public static let blockSize = 512
    /// Blocks the result needs: one per class.
    public static let minimumBlocks = 10
    /// Slots per channel block (`SlotGeometry.blockSize`).
    public var blockSize: Int { Self.blockSize }

    /// The geometry of `slotCount` slots for 1D or 2D blocks.
    /// - Throws: `HETensorError.unsupportedSlotCount` unless `slotCount` is a multiple of
    ///   `blockSize` with at least `minimumBlocks` blocks.
    public init(slotCount: Int, dimension: Dimension) throws(HETensorError) {
        guard slotCount % Self.blockSize == 0, slotCount >= Self.blockSize * Self.minimumBlocks else {
            throw .unsupportedSlotCount(slotCount)
        }
        self.slotCount = slotCount
        self.dimension = dimension
    }

    /// Channels per ciphertext (B).
    public var blockCount: Int { slotCount / blockSize }
    /// Slots per map row: 16 in 2D, 512 in 1D.
    public var rowWidth: Int { dimension == .two ? 16 : blockSize }
    /// Rows of the input map: 32 in 2D, 1 in 1D.
    public var inputHeight: Int { dimension == .two ? 32 : 1 }
    /// Columns of the input map: 15 in 2D, 480 in 1D.
    public var inputWidth: Int { dimension == .two ? 15 : 480 }

    /// The in-block offset of map entry (i, j) at stride s.
    public func offset(row i: Int, column j: Int, stride s: Int) -> Int {
        dimension == .two ? s * (i * rowWidth + j) : s * j
    }

    /// The in-block offset of Fast-HEAR sub-position m at stride s (0 for m = 0).
    public func subpositionOffset(_ m: Int, stride s: Int) -> Int {
        dimension == .two ? (m / s) * rowWidth + m % s : m
    }

    /// The most ciphertexts Fast-HEAR interlaces at stride s: s² in 2D, s in 1D.
    public func load(stride s: Int) -> Int { dimension == .two ? s * s : s }

    /// The slot count, block count and block shape in one line.
    public var description: String {
        "\(slotCount) slots = \(blockCount) blocks of \(blockSize), "
            + (dimension == .two ? "32 rows × 16 columns per block" : "one row of \(blockSize) per block")
    }
}

/// The placement of one feature tensor (C channels of H × W) in ciphertexts.
public struct PackedLayout: Sendable, Equatable, CustomStringConvertible {
    /// How the channels are spread over ciphertexts and blocks.
    public enum Kind: Sendable, Equatable {
        /// The network input: one ciphertext whose block k holds input channel k mod C (C | B):
        /// B/C interlaced replicas, so that a rotation by 512·d brings channel (k + d) mod C to
        /// block k for every k at once.
        case replicated
        /// Channel B·x + k in block k of ciphertext x, entry (i, j) at stride `stride`.
        case sparse
        /// Fast-HEAR: `load` sparse ciphertexts interlaced into one; sparse ciphertext g·load + m
        /// sits at sub-position m of merged ciphertext g.
        case merged(load: Int)
    }

    /// The slot geometry (slot count, block size, 1D or 2D).
    public var geometry: SlotGeometry
    /// Replicated input, sparse, or merged (Fast-HEAR).
    public var kind: Kind
    /// Channels C of the tensor.
    public var channels: Int
    /// Rows H of each channel's map (frames in 2D; 1 in 1D).
    public var height: Int
    /// Columns W of each channel's map (joints in 2D; frames in 1D).
    public var width: Int
    /// The stride at which the map's entries sit in the block (2^pooling levels so far).
    public var stride: Int

    /// A layout; no check here (the compiler builds valid ones).
    public init(geometry: SlotGeometry, kind: Kind, channels: Int, height: Int, width: Int, stride: Int) {
        self.geometry = geometry
        self.kind = kind
        self.channels = channels
        self.height = height
        self.width = width
        self.stride = stride
    }

    /// Ciphertexts of the equivalent sparse layout (channels / B, rounded up).
    public var sparseCount: Int { (channels + geometry.blockCount - 1) / geometry.blockCount }

    /// Ciphertexts the tensor occupies: 1 (replicated), C/B rounded up (sparse), or that divided by the load, rounded up (merged).
    public var ciphertextCount: Int {
        switch kind {
        case .replicated: return 1
        case .sparse: return sparseCount
        case .merged(let load): return (sparseCount + load - 1) / load
        }
    }

    /// Sub-positions in use in ciphertext x (1 unless merged).
    public func subpositionCount(ciphertext x: Int) -> Int {
        if case .merged(let load) = kind { return min(load, sparseCount - x * load) }
        return 1
    }

    /// The channel at block b, sub-position m of ciphertext x, or nil for an empty place.
    public func channel(ciphertext x: Int, block b: Int, subposition m: Int) -> Int? {
        let c: Int
        switch kind {
        case .replicated: c = b % channels
        case .sparse: c = x * geometry.blockCount + b
        case .merged(let load): c = (x * load + m) * geometry.blockCount + b
        }
        return c < channels ? c : nil
    }

    /// Where entry (i, j) of channel c lives (for the replicated input: its first replica).
    public func location(channel c: Int, row i: Int, column j: Int) -> (ciphertext: Int, slot: Int) {
        let b = geometry.blockCount
        let inBlock = geometry.offset(row: i, column: j, stride: stride)
        switch kind {
        case .replicated:
            return (0, c * geometry.blockSize + inBlock)
        case .sparse:
            return (c / b, (c % b) * geometry.blockSize + inBlock)
        case .merged(let load):
            let x = c / b
            return (x / load, (c % b) * geometry.blockSize + inBlock + geometry.subpositionOffset(x % load, stride: stride))
        }
    }

    /// One line: the map size, the kind and the ciphertexts.
    public var description: String {
        let map = geometry.dimension == .two ? "\(height) × \(width)" : "\(width)"
        let what: String
        switch kind {
        case .replicated: what = "replicated input, block k holds channel k mod \(channels)"
        case .sparse: what = "\(ciphertextCount) ciphertext(s) of \(geometry.blockCount) channels"
        case .merged(let load): what = "\(ciphertextCount) merged ciphertext(s), \(load) sparse ones interlaced in each"
        }
        return "\(channels) channels of \(map) at stride \(stride): \(what)"
    }

    /// What the slot at in-block `offset` of block b, ciphertext x holds: the channel, the map
    /// entry (i, j) and the sub-position, or nil for a slot that holds nothing valid (padding,
    /// the gaps left by pooling, an empty sub-position). The inverse of `location` (for the
    /// replicated input: of every replica).
    public func entry(ciphertext x: Int, block b: Int, offset: Int) -> (channel: Int, row: Int, column: Int, subposition: Int)? {
        for m in 0..<subpositionCount(ciphertext: x) {
            let base = offset - geometry.subpositionOffset(m, stride: stride)
            guard base >= 0 else { continue }
            let (i, j): (Int, Int)
            if geometry.dimension == .two {
                let row = base / geometry.rowWidth, column = base % geometry.rowWidth
                guard row % stride == 0, column % stride == 0 else { continue }
                (i, j) = (row / stride, column / stride)
            } else {
                guard base % stride == 0 else { continue }
                (i, j) = (0, base / stride)
            }
            if i < height, j < width, let c = channel(ciphertext: x, block: b, subposition: m) {
                return (c, i, j, m)
            }
        }
        return nil
    }

    /// A picture of the first rows of one block: which (channel, row, column) each slot holds,
    /// `·` for a slot that holds nothing valid.
    public func picture(ciphertext x: Int = 0, block b: Int = 0, rows: Int = 4, columns: Int = 16) -> String {
        var lines: [String] = []
        let rowWidth = geometry.dimension == .two ? geometry.rowWidth : columns
        for r in 0..<rows {
            var cells: [String] = []
            for col in 0..<min(columns, rowWidth) {
                var label = "·"
                if let e = entry(ciphertext: x, block: b, offset: r * rowWidth + col) {
                    label = geometry.dimension == .two ? "c\(e.channel):\(e.row),\(e.column)" : "c\(e.channel):\(e.column)"
                }
                cells.append(label + String(repeating: " ", count: max(1, 9 - label.count)))
            }
            lines.append(cells.joined())
        }
        return lines.joined(separator: "\n")
    }
}

/// Why the tensor layer refused a network, a geometry or an input.
public enum HETensorError: Error, Equatable, CustomStringConvertible {
    /// The slot count cannot hold the packing (blocks of 512 slots, one per class in the result).
    case unsupportedSlotCount(Int)
    /// The folded network's shapes do not fit together.
    case invalidNetwork(String)
    /// An input vector of the wrong size.
    case invalidInput(String)

    /// The message a user reads: what does not fit and where.
    public var description: String {
        switch self {
        case let .unsupportedSlotCount(slots):
            return "\(slots) slots cannot hold the packing: it needs a multiple of \(SlotGeometry.blockSize) and at least "
                + "\(SlotGeometry.minimumBlocks) blocks (one per class in the result), i.e. N ≥ 2^14 at 128-bit security"
        case let .invalidNetwork(why): return "the network cannot be packed: \(why)"
        case let .invalidInput(why): return "invalid input: \(why)"
        }
    }
}

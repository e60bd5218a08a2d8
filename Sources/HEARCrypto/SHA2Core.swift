/// What SHA-256 and SHA-512 share (FIPS 180-4 §5.1, §6): a state of eight words, the buffering of
/// bytes into blocks of `blockSize` (whole blocks go to the compression function), the final
/// padding — a 1 bit, zeros, and the message length in bits as a big-endian integer of
/// `lengthFieldSize` bytes, so that the padded message ends on a block boundary — and the digest,
/// the final state in big-endian words.
struct SHA2Core<Word: FixedWidthInteger & UnsignedInteger & Sendable>: Sendable {
    typealias Compression = (inout [Word], UnsafeRawBufferPointer) -> Void
    private var state: [Word]
    let blockSize: Int
    let lengthFieldSize: Int
    /// The bytes of an incomplete block (fewer than `blockSize`).
    private var pending: [UInt8] = []
    /// Message length so far, in bytes (a message of 2⁶¹ bytes or more is out of scope).
    private var length: UInt64 = 0

    init(initialState: [Word], blockSize: Int, lengthFieldSize: Int) {
        state = initialState
        self.blockSize = blockSize
        self.lengthFieldSize = lengthFieldSize
        pending.reserveCapacity(blockSize)
    }

    /// Absorbs message bytes, compressing every completed block into the state.
    mutating func update<Bytes: Sequence>(_ bytes: Bytes, compress: Compression) where Bytes.Element == UInt8 {
        var s = state
        absorb(bytes) { compress(&s, $0) }
        state = s
    }

    /// Pads the message and returns the digest.
    mutating func finalize(compress: Compression) -> [UInt8] {
        var s = state
        pad { compress(&s, $0) }
        state = s
        var digest: [UInt8] = []
        digest.reserveCapacity(state.count * Word.bitWidth / 8)
        for word in state { for i in (0..<(Word.bitWidth / 8)).reversed() { digest.append(UInt8(truncatingIfNeeded: word >> (8 * i))) } }
        return digest
    }

    /// Gathers bytes into blocks; `compress` receives every completed run of whole blocks.
    private mutating func absorb<Bytes: Sequence>(_ bytes: Bytes, compress: (UnsafeRawBufferPointer) -> Void) where Bytes.Element == UInt8 {
        if bytes.withContiguousStorageIfAvailable({ absorb(buffer: UnsafeRawBufferPointer($0), compress: compress) }) != nil { return }
        let array = Array(bytes)
        array.withUnsafeBytes { absorb(buffer: $0, compress: compress) }
    }

    private mutating func absorb(buffer: UnsafeRawBufferPointer, compress: (UnsafeRawBufferPointer) -> Void) {
        length &+= UInt64(buffer.count)
        var offset = 0
        if !pending.isEmpty {
            let take = min(blockSize - pending.count, buffer.count)
            pending.append(contentsOf: buffer[0..<take])
            offset = take
            guard pending.count == blockSize else { return }
            pending.withUnsafeBytes { compress($0) }
            pending.removeAll(keepingCapacity: true)
        }
        let whole = (buffer.count - offset) / blockSize * blockSize
        if whole > 0 { compress(UnsafeRawBufferPointer(rebasing: buffer[offset..<(offset + whole)])) }
        pending.append(contentsOf: buffer[(offset + whole)...])
    }

    /// Absorbs the padding; afterwards the buffer is empty and every block has been compressed.
    private mutating func pad(compress: (UnsafeRawBufferPointer) -> Void) {
        let afterOne = (pending.count + 1) % blockSize, room = blockSize - lengthFieldSize
        var padding: [UInt8] = [0x80] + [UInt8](repeating: 0, count: afterOne <= room ? room - afterOne : blockSize + room - afterOne)
        func appendBigEndian(_ word: UInt64) { for i in (0..<8).reversed() { padding.append(UInt8(truncatingIfNeeded: word >> (8 * UInt64(i)))) } }
        if lengthFieldSize == 16 { appendBigEndian(length >> 61) }  // the bit length's high word
        appendBigEndian(length &* 8)
        let saved = length
        absorb(padding, compress: compress)
        length = saved
        precondition(pending.isEmpty, "the padding ends on a block boundary")
    }
}

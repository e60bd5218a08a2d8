import Dispatch

/// SHA-256 over a two-level tree of 64 KiB chunks: the digest of large files (evaluation keys
/// of 100 MB and more), computed sixteen chunks at a time in the lanes of a vector register.
///
/// For a message M of L bytes, cut into k = ⌈L / 65 536⌉ chunks (all of 65 536 bytes but the
/// last; k = 0 when L = 0):
///
///     leaf_i = SHA-256(chunk_i)
///     root   = SHA-256("HEAR-SHA256-TREE-1" · u64le(L) · leaf_0 · leaf_1 · … · leaf_{k−1})
///
/// Why it is as strong as SHA-256: the chunk boundaries are a function of L, and L is inside the
/// root's input, which starts with a tag no leaf list can be confused with. Two messages with the
/// same root therefore have either colliding root inputs (a SHA-256 collision) or the same L and
/// the same leaves while some chunk differs (a SHA-256 collision again).
///
/// Why it is fast: every full chunk is a message of exactly the same length, so sixteen of them
/// run the compression function in lock step, one chunk per lane of a `SIMD16<UInt32>` (the
/// "multi-buffer" technique): 512-bit instructions where the CPU has AVX-512, two 256-bit ones
/// with AVX2. The result does not depend on the lane count or on `concurrency` (tested against
/// the definition above with the one-block-at-a-time `SHA256`).
public enum SHA256Tree {
    /// The chunk length in bytes.
    public static let chunkSize = 65_536
    static let tag = Array("HEAR-SHA256-TREE-1".utf8)
    static let lanes = 16

    /// The tree digest (32 bytes) of `bytes`. `concurrency`: how many threads hash groups of
    /// sixteen chunks at once (1: the calling thread only).
    public static func hash(_ bytes: UnsafeRawBufferPointer, concurrency: Int = 1) -> [UInt8] {
        let length = bytes.count
        let chunkCount = (length + chunkSize - 1) / chunkSize
        let fullChunks = length / chunkSize
        var leaves = [UInt8](repeating: 0, count: 32 * chunkCount)
        let groups = fullChunks / lanes
        leaves.withUnsafeMutableBufferPointer { leafBuffer in
            let out = UnsafeMutableSendable(pointer: leafBuffer.baseAddress!)
            let base = UnsafeSendable(pointer: bytes.baseAddress)
            let threads = max(1, min(concurrency, groups))
            if groups > 0 {
                DispatchQueue.concurrentPerform(iterations: threads) { worker in
                    var group = worker
                    let scratch = MultiBufferScratch()
                    while group < groups {
                        let first = group * lanes
                        let pointers = (0..<lanes).map { UnsafeRawPointer(base.pointer! + (first + $0) * chunkSize) }
                        scratch.hashFullChunks(pointers, into: out.pointer + 32 * first)
                        group += threads
                    }
                }
            }
            // the full chunks that do not fill a group of sixteen, and the last, shorter chunk
            for chunk in (groups * lanes)..<chunkCount {
                let start = chunk * chunkSize, end = min(length, start + chunkSize)
                let digest = SHA256.hash(UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
                for i in 0..<32 { out.pointer[32 * chunk + i] = digest[i] }
            }
        }
        var root = SHA256()
        root.update(tag)
        withUnsafeBytes(of: UInt64(length).littleEndian) { root.update($0) }
        root.update(leaves)
        return root.finalize()
    }

    /// The tree digest (32 bytes) of an array of bytes (the same as for its raw buffer).
    public static func hash(_ bytes: [UInt8], concurrency: Int = 1) -> [UInt8] {
        bytes.withUnsafeBytes { hash($0, concurrency: concurrency) }
    }
}

/// Raw pointers carried into a `concurrentPerform` closure (each worker writes its own leaves).
struct UnsafeSendable: @unchecked Sendable { let pointer: UnsafeRawPointer? }
struct UnsafeMutableSendable: @unchecked Sendable { let pointer: UnsafeMutablePointer<UInt8> }

/// SHA-256 of sixteen messages of exactly `SHA256Tree.chunkSize` bytes at once.
final class MultiBufferScratch {
    typealias Vector = SIMD16<UInt32>
    /// The message schedule, W_0 … W_63, one lane per message.
    let schedule = UnsafeMutablePointer<Vector>.allocate(capacity: 64)
    /// The schedule of the padding block every message of 65 536 bytes ends with (the same for
    /// all lanes: 0x80, zeros, the bit length 2^19).
    let paddingSchedule = UnsafeMutablePointer<Vector>.allocate(capacity: 64)
    let constants = UnsafeMutablePointer<Vector>.allocate(capacity: 64)

    init() {
        var padding = [UInt32](repeating: 0, count: 16)
        padding[0] = 0x8000_0000
        padding[15] = UInt32(SHA256Tree.chunkSize * 8)
        for t in 0..<16 { paddingSchedule[t] = Vector(repeating: padding[t]) }
        Self.expand(paddingSchedule)
        for t in 0..<64 { constants[t] = Vector(repeating: SHA256.roundConstants[t]) }
    }

    deinit {
        schedule.deallocate()
        paddingSchedule.deallocate()
        constants.deallocate()
    }

    @inline(__always) static func rotr(_ x: Vector, _ n: UInt32) -> Vector { (x &>> n) | (x &<< (32 &- n)) }

    /// W_16 … W_63 from W_0 … W_15 (FIPS 180-4 §6.2.2, step 1).
    @inline(__always) static func expand(_ w: UnsafeMutablePointer<Vector>) {
        for t in 16..<64 {
            let x = w[t - 15], y = w[t - 2]
            let s0 = rotr(x, 7) ^ rotr(x, 18) ^ (x &>> 3)
            let s1 = rotr(y, 17) ^ rotr(y, 19) ^ (y &>> 10)
            w[t] = s1 &+ w[t - 7] &+ s0 &+ w[t - 16]
        }
    }

    /// The 64 rounds over `w` and the feed-forward into `state`.
    @inline(__always) func compress(_ state: inout (Vector, Vector, Vector, Vector, Vector, Vector, Vector, Vector),
                                    _ w: UnsafeMutablePointer<Vector>) {
        var (a, b, c, d, e, f, g, h) = state
        for t in 0..<64 {
            let sum1 = Self.rotr(e, 6) ^ Self.rotr(e, 11) ^ Self.rotr(e, 25)
            let choose = (e & f) ^ (~e & g)
            let t1 = h &+ sum1 &+ choose &+ constants[t] &+ w[t]
            let sum0 = Self.rotr(a, 2) ^ Self.rotr(a, 13) ^ Self.rotr(a, 22)
            let majority = (a & b) ^ (a & c) ^ (b & c)
            h = g; g = f; f = e; e = d &+ t1
            d = c; c = b; b = a; a = t1 &+ sum0 &+ majority
        }
        state.0 &+= a; state.1 &+= b; state.2 &+= c; state.3 &+= d
        state.4 &+= e; state.5 &+= f; state.6 &+= g; state.7 &+= h
    }

    /// The SHA-256 digests of the sixteen chunks at `chunks`, written as 16 × 32 bytes to `out`.
    func hashFullChunks(_ chunks: [UnsafeRawPointer], into out: UnsafeMutablePointer<UInt8>) {
        let iv = SHA256.initialState
        var state = (Vector(repeating: iv[0]), Vector(repeating: iv[1]), Vector(repeating: iv[2]), Vector(repeating: iv[3]),
                     Vector(repeating: iv[4]), Vector(repeating: iv[5]), Vector(repeating: iv[6]), Vector(repeating: iv[7]))
        let p = (chunks[0], chunks[1], chunks[2], chunks[3], chunks[4], chunks[5], chunks[6], chunks[7],
                 chunks[8], chunks[9], chunks[10], chunks[11], chunks[12], chunks[13], chunks[14], chunks[15])
        var offset = 0
        while offset < SHA256Tree.chunkSize {
            for t in 0..<16 {
                let o = offset + 4 * t
                @inline(__always) func word(_ q: UnsafeRawPointer) -> UInt32 {
                    UInt32(bigEndian: q.loadUnaligned(fromByteOffset: o, as: UInt32.self))
                }
                schedule[t] = Vector(word(p.0), word(p.1), word(p.2), word(p.3), word(p.4), word(p.5), word(p.6), word(p.7),
                                     word(p.8), word(p.9), word(p.10), word(p.11), word(p.12), word(p.13), word(p.14), word(p.15))
            }
            Self.expand(schedule)
            compress(&state, schedule)
            offset += 64
        }
        compress(&state, paddingSchedule)
        let words = [state.0, state.1, state.2, state.3, state.4, state.5, state.6, state.7]
        for lane in 0..<16 {
            for (i, word) in words.enumerated() {
                let v = word[lane]
                out[32 * lane + 4 * i] = UInt8(truncatingIfNeeded: v >> 24)
                out[32 * lane + 4 * i + 1] = UInt8(truncatingIfNeeded: v >> 16)
                out[32 * lane + 4 * i + 2] = UInt8(truncatingIfNeeded: v >> 8)
                out[32 * lane + 4 * i + 3] = UInt8(truncatingIfNeeded: v)
            }
        }
    }
}

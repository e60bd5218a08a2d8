// ChaCha20 (RFC 8439) as the engine's CSPRNG and seed expander.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The ChaCha20 block function and keystream of RFC 8439 (256-bit key, 96-bit nonce, 32-bit
/// block counter), used as a random number generator: the keystream, read as little-endian
/// 64-bit words, is the random stream.
///
/// Two roles (never mixed): `ChaCha20.systemSeeded()` draws its key from the operating system
/// (`getrandom`) for secrets and errors; `ChaCha20(seed:domain:)` deterministically expands a
/// public 32-byte seed (for the uniform `a` polynomials of keys and seeded ciphertexts, so that
/// only the seed needs to be stored or sent).
///
/// A class, so that there is exactly one state per generator: a copy of a value that holds one
/// (an `Encryptor`, a `KeyGenerator`) shares it and draws fresh words, instead of replaying the
/// words the original draws (which a struct copy would do: two encryptions with the same
/// randomness). Not thread-safe: one generator per thread. The key and the buffered keystream
/// are zeroed when the generator is released.
public final class ChaCha20: RandomNumberGenerator, @unchecked Sendable {
    // The key as two 16-byte vectors: a 32-byte SIMD8 member would demand an alignment that
    // heap storage (16 bytes) does not guarantee.
    // (exclusivity: a generator is used by one thread, and no access to these properties
    // overlaps another; unchecked keeps the dynamic checks out of the sampling loops)
    @exclusivity(unchecked) @usableFromInline var keyLow: SIMD4<UInt32>
    @exclusivity(unchecked) @usableFromInline var keyHigh: SIMD4<UInt32>
    @exclusivity(unchecked) @usableFromInline var nonce: SIMD4<UInt32>   // three words and a zero
    /// The counter of the next block to generate.
    @exclusivity(unchecked) @usableFromInline var counter: UInt32
    /// Eight consecutive keystream blocks (128 words), generated at once.
    @usableFromInline let buffer = UnsafeMutablePointer<UInt32>.allocate(capacity: 128)
    @exclusivity(unchecked) @usableFromInline var position = 128         // next unused word of `buffer`
    /// Whether the key came from the operating system: such a generator takes a fresh key before
    /// its block counter can wrap; a deterministic seed expansion stops there instead (2³² blocks,
    /// 256 GiB, far beyond any polynomial it expands).
    @usableFromInline var reseedsFromSystem = false

    /// A generator keyed by 32 bytes, with a 12-byte nonce and an initial block counter.
    public init(key: [UInt8], nonce: [UInt8], counter: UInt32 = 0) {
        precondition(key.count == 32 && nonce.count == 12, "ChaCha20 needs a 32-byte key and a 12-byte nonce")
        keyLow = SIMD4((0..<4).map { Self.littleEndianWord(key, $0 * 4) })
        keyHigh = SIMD4((4..<8).map { Self.littleEndianWord(key, $0 * 4) })
        self.nonce = SIMD4(Self.littleEndianWord(nonce, 0), Self.littleEndianWord(nonce, 4), Self.littleEndianWord(nonce, 8), 0)
        self.counter = counter
        buffer.initialize(repeating: 0, count: 128)
    }

    deinit {
        keyLow = .zero
        keyHigh = .zero
        wipe(UnsafeMutableRawBufferPointer(start: buffer, count: 128 * 4))
        buffer.deallocate()
    }

    /// The deterministic expansion of a public 32-byte seed; `domain` separates independent
    /// streams from one seed (it becomes the nonce).
    public convenience init(seed: [UInt8], domain: UInt64 = 0) {
        var nonce = [UInt8](repeating: 0, count: 12)
        for i in 0..<8 { nonce[i] = UInt8(truncatingIfNeeded: domain >> (8 * UInt64(i))) }
        self.init(key: seed, nonce: nonce)
    }

    /// A generator keyed from the operating system's entropy source.
    /// - Throws: `EntropyError` if the source fails.
    /// `startingAtBlock` is for tests of the rekeying (the default, 0, is what every caller wants).
    public static func systemSeeded(startingAtBlock counter: UInt32 = 0) throws(EntropyError) -> ChaCha20 {
        var key = try systemRandomBytes(32)
        defer { wipe(&key) }
        let generator = ChaCha20(key: key, nonce: [UInt8](repeating: 0, count: 12), counter: counter)
        generator.reseedsFromSystem = true
        return generator
    }

    /// A fresh key from the operating system, the counter back to 0. Should the entropy source
    /// fail, the next 32 keystream bytes become the key ("fast key erasure": the old key cannot
    /// be recomputed from the new one), so the stream never repeats and never stops.
    @usableFromInline
    func rekey() {
        var key = (try? Self.systemRandomBytes(32)) ?? {
            let (k, n) = (SIMD8(lowHalf: keyLow, highHalf: keyHigh), nonce)
            var block = [UInt32](repeating: 0, count: 128)
            block.withUnsafeMutableBufferPointer { Self.eightBlocks(key: k, nonce: n, counter: counter, into: $0.baseAddress!) }
            defer { block.withUnsafeMutableBytes { wipe($0) } }
            return (0..<32).map { UInt8(truncatingIfNeeded: block[$0 / 4] >> (8 * UInt32($0 % 4))) }
        }()
        keyLow = SIMD4((0..<4).map { Self.littleEndianWord(key, $0 * 4) })
        keyHigh = SIMD4((4..<8).map { Self.littleEndianWord(key, $0 * 4) })
        wipe(&key)
        counter = 0
    }

    /// `count` bytes from the operating system (`getrandom(2)` on Linux, `arc4random_buf` on
    /// Apple platforms).
    public static func systemRandomBytes(_ count: Int) throws(EntropyError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        #if os(Linux)
        // getrandom(2) (blocks until the pool is initialised, never returns short reads of
        // ≤ 256 bytes); Glibc's Swift module does not export it, so it is looked up by name.
        typealias GetRandom = @convention(c) (UnsafeMutableRawPointer?, Int, UInt32) -> Int
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "getrandom") else {
            throw EntropyError(reason: "getrandom is not available in this C library")
        }
        let getRandom = unsafeBitCast(symbol, to: GetRandom.self)
        var filled = 0
        while filled < count {
            let r = bytes.withUnsafeMutableBytes { getRandom($0.baseAddress! + filled, count - filled, 0) }
            if r < 0 {
                if errno == EINTR { continue }
                throw EntropyError(reason: "getrandom failed with errno \(errno)")
            }
            filled += r
        }
        #else
        bytes.withUnsafeMutableBytes { arc4random_buf($0.baseAddress!, count) }
        #endif
        return bytes
    }

    @inlinable static func littleEndianWord(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
    }

    /// The 16-word block for `counter` (RFC 8439 §2.3): 20 rounds of quarter rounds on the state
    /// `constants ‖ key ‖ counter ‖ nonce`, plus the input state.
    public static func block(key: [UInt32], counter: UInt32, nonce: [UInt32]) -> [UInt32] {
        let initial: [UInt32] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574]
            + key + [counter] + nonce
        var x = initial
        @inline(__always) func quarterRound(_ a: Int, _ b: Int, _ c: Int, _ d: Int) {
            x[a] &+= x[b]; x[d] ^= x[a]; x[d] = x[d].rotatedLeft(16)
            x[c] &+= x[d]; x[b] ^= x[c]; x[b] = x[b].rotatedLeft(12)
            x[a] &+= x[b]; x[d] ^= x[a]; x[d] = x[d].rotatedLeft(8)
            x[c] &+= x[d]; x[b] ^= x[c]; x[b] = x[b].rotatedLeft(7)
        }
        for _ in 0..<10 {
            quarterRound(0, 4, 8, 12); quarterRound(1, 5, 9, 13)
            quarterRound(2, 6, 10, 14); quarterRound(3, 7, 11, 15)
            quarterRound(0, 5, 10, 15); quarterRound(1, 6, 11, 12)
            quarterRound(2, 7, 8, 13); quarterRound(3, 4, 9, 14)
        }
        for i in 0..<16 { x[i] &+= initial[i] }
        return x
    }

    /// Eight blocks at once, one per SIMD lane (lane `j` has counter `counter + j`): the same
    /// quarter rounds as `block`, on eight states in parallel, then transposed so that
    /// `out[16·j + i]` is word `i` of block `counter + j`.
    @inlinable
    static func eightBlocks(key: SIMD8<UInt32>, nonce: SIMD4<UInt32>, counter: UInt32, into out: UnsafeMutablePointer<UInt32>) {
        typealias V = SIMD8<UInt32>
        @inline(__always) func rotate(_ v: V, _ n: UInt32) -> V { (v &<< V(repeating: n)) | (v &>> V(repeating: 32 - n)) }
        @inline(__always) func quarterRound(_ a: inout V, _ b: inout V, _ c: inout V, _ d: inout V) {
            a &+= b; d ^= a; d = rotate(d, 16)
            c &+= d; b ^= c; b = rotate(b, 12)
            a &+= b; d ^= a; d = rotate(d, 8)
            c &+= d; b ^= c; b = rotate(b, 7)
        }
        let s0 = V(repeating: 0x6170_7865), s1 = V(repeating: 0x3320_646e)
        let s2 = V(repeating: 0x7962_2d32), s3 = V(repeating: 0x6b20_6574)
        let s4 = V(repeating: key[0]), s5 = V(repeating: key[1]), s6 = V(repeating: key[2]), s7 = V(repeating: key[3])
        let s8 = V(repeating: key[4]), s9 = V(repeating: key[5]), s10 = V(repeating: key[6]), s11 = V(repeating: key[7])
        let s12 = V(repeating: counter) &+ V(0, 1, 2, 3, 4, 5, 6, 7)
        let s13 = V(repeating: nonce[0]), s14 = V(repeating: nonce[1]), s15 = V(repeating: nonce[2])
        var x0 = s0, x1 = s1, x2 = s2, x3 = s3, x4 = s4, x5 = s5, x6 = s6, x7 = s7
        var x8 = s8, x9 = s9, x10 = s10, x11 = s11, x12 = s12, x13 = s13, x14 = s14, x15 = s15
        for _ in 0..<10 {
            quarterRound(&x0, &x4, &x8, &x12); quarterRound(&x1, &x5, &x9, &x13)
            quarterRound(&x2, &x6, &x10, &x14); quarterRound(&x3, &x7, &x11, &x15)
            quarterRound(&x0, &x5, &x10, &x15); quarterRound(&x1, &x6, &x11, &x12)
            quarterRound(&x2, &x7, &x8, &x13); quarterRound(&x3, &x4, &x9, &x14)
        }
        let words = [x0 &+ s0, x1 &+ s1, x2 &+ s2, x3 &+ s3, x4 &+ s4, x5 &+ s5, x6 &+ s6, x7 &+ s7,
                     x8 &+ s8, x9 &+ s9, x10 &+ s10, x11 &+ s11, x12 &+ s12, x13 &+ s13, x14 &+ s14, x15 &+ s15]
        for i in 0..<16 {
            let w = words[i]
            for j in 0..<8 { out[16 * j + i] = w[j] }
        }
    }

    /// Generates the next eight blocks into `buffer`.
    @usableFromInline
    func refill() {
        if counter > UInt32.max - 8 && reseedsFromSystem { rekey() }
        precondition(counter <= UInt32.max - 8, "ChaCha20 block counter exhausted (256 GiB of a deterministic seed expansion)")
        Self.eightBlocks(key: SIMD8(lowHalf: keyLow, highHalf: keyHigh), nonce: nonce, counter: counter, into: buffer)
        counter &+= 8
        position = 0
    }

    /// The next 32-bit word of the keystream.
    @inlinable
    public func nextWord() -> UInt32 {
        if position == 128 { refill() }
        defer { position += 1 }
        return buffer[position]
    }

    /// The next 64 bits of the keystream (two words, little-endian).
    @inlinable
    public func next() -> UInt64 {
        if position <= 126 {
            let low = buffer[position], high = buffer[position + 1]
            position += 2
            return UInt64(low) | UInt64(high) << 32
        }
        let low = UInt64(nextWord())
        return low | UInt64(nextWord()) << 32
    }

    /// `count` keystream bytes (the RFC's serialization: words little-endian).
    public func nextBytes(_ count: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count)
        while out.count < count {
            let w = nextWord()
            for i in 0..<4 where out.count < count { out.append(UInt8(truncatingIfNeeded: w >> (8 * UInt32(i)))) }
        }
        return out
    }

    /// Encrypts or decrypts (XOR with the keystream), RFC 8439 §2.4.
    public func xor(_ message: [UInt8]) -> [UInt8] {
        let stream = nextBytes(message.count)
        return zip(message, stream).map { $0 ^ $1 }
    }
}

extension UInt32 {
    @inlinable func rotatedLeft(_ n: UInt32) -> UInt32 { (self << n) | (self >> (32 - n)) }
}

/// The operating system gave no randomness.
public struct EntropyError: Error, Equatable, CustomStringConvertible {
    /// What the operating system's random source reported.
    public var reason: String
    /// An error with the given reason.
    public init(reason: String) { self.reason = reason }
    /// The message a user reads.
    public var description: String { "no randomness from the operating system: \(reason)" }
}

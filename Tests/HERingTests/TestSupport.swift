import Testing
import HERing

/// A small deterministic generator for test inputs (SplitMix64); not for secrets.
struct TestRNG: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random odd moduli of an exact bit size (Barrett/Shoup/Montgomery hold for any odd modulus).
func randomOddModuli(bits: Int, count: Int, rng: inout TestRNG) -> [UInt64] {
    (0..<count).map { _ in
        let top = UInt64(1) << (bits - 1)
        return (top | (rng.next() & (top - 1))) | 1
    }
}

/// Operand pairs that include the boundary values 0, 1, q−1, q−2, ⌊q/2⌋ and random ones.
func boundaryAndRandomPairs(below q: UInt64, count: Int, rng: inout TestRNG) -> [(UInt64, UInt64)] {
    let edges: [UInt64] = [0, 1, 2, q - 1, q - 2, q / 2, q / 2 + 1]
    var pairs: [(UInt64, UInt64)] = []
    for a in edges { for b in edges { pairs.append((a, b)) } }
    for _ in 0..<count { pairs.append((rng.next() % q, rng.next() % q)) }
    return pairs
}

/// Schoolbook product in Z_q[X]/(X^N + 1): X^N = −1 wraps with a sign change.
func schoolbookNegacyclic(_ a: [UInt64], _ b: [UInt64], modulus m: Modulus) -> [UInt64] {
    let n = a.count
    var result = [UInt64](repeating: 0, count: n)
    for i in 0..<n {
        for j in 0..<n {
            let p = UInt64((UInt128(a[i]) * UInt128(b[j])) % UInt128(m.q))
            let k = i + j
            if k < n { result[k] = m.add(result[k], p) } else { result[k - n] = m.subtract(result[k - n], p) }
        }
    }
    return result
}

/// `body` throws an `E` whose description says `fact`: the case *and* the message a user acts on.
func expectError<E: Error & CustomStringConvertible, T>(_ type: E.Type, saying fact: String,
                                                         sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> T) {
    let error = #expect(throws: E.self, sourceLocation: sourceLocation) { _ = try body() }
    if let error {
        #expect(error.description.contains(fact), "«\(error.description)» does not say «\(fact)»", sourceLocation: sourceLocation)
    }
}

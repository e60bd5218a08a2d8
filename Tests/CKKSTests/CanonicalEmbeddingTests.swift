import Foundation
import Testing
import CKKS

@Suite("Canonical embedding")
struct CanonicalEmbeddingTests {
    /// Slot j = m(ζ^(5^j mod 2N)) evaluated directly, O(N²), in the obvious way.
    static func naiveSlots(_ m: [Double]) -> [Complex] {
        let bigN = m.count, twoN = 2 * bigN
        var g = 1
        var slots: [Complex] = []
        for _ in 0..<(bigN / 2) {
            var sum = Complex(0)
            for (k, c) in m.enumerated() {
                sum = sum + Complex(phase: 2 * Double.pi * Double((k * g) % twoN) / Double(twoN)) * c
            }
            slots.append(sum)
            g = (g * 5) % twoN
        }
        return slots
    }

    @Test("FFT decoding equals direct evaluation at ζ^(5^j)", arguments: [4, 8, 64, 512])
    func decodingMatchesDirectEvaluation(degree: Int) throws {
        var state: UInt64 = UInt64(degree)
        func random() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) / Double(1 << 53) * 2 - 1
        }
        let m = (0..<degree).map { _ in random() }
        let embedding = try CanonicalEmbedding(degree: degree)
        let fast = try embedding.slots(ofCoefficients: m)
        let slow = Self.naiveSlots(m)
        for j in 0..<(degree / 2) {
            #expect((fast[j] - slow[j]).magnitude < 1e-9 * Double(degree), "slot \(j)")
        }
    }

    @Test("encoding then decoding returns the slots (complex and real)", arguments: [8, 1024, 1 << 14])
    func roundTrip(degree: Int) throws {
        let embedding = try CanonicalEmbedding(degree: degree)
        let n = degree / 2
        let slots = (0..<n).map { Complex(sin(Double($0)), cos(Double($0) * 0.37)) }
        let back = try embedding.slots(ofCoefficients: embedding.coefficients(ofSlots: slots))
        let error = zip(slots, back).map { ($0 - $1).magnitude }.max()!
        #expect(error < 1e-12, "max error \(error)")
        // m(X) = c (a constant) has every slot equal to c
        var constant = [Double](repeating: 0, count: degree)
        constant[0] = 2.5
        #expect(try embedding.slots(ofCoefficients: constant).allSatisfy { ($0 - Complex(2.5)).magnitude < 1e-12 })
    }

    @Test("slot j and the automorphism X → X^5 rotate slots by one")
    func rotationByFive() throws {
        let degree = 64
        let embedding = try CanonicalEmbedding(degree: degree)
        let slots = (0..<32).map { Complex(Double($0), 0) }
        let m = try embedding.coefficients(ofSlots: slots)
        // m(X^5): coefficient k moves to 5k mod 2N with a sign flip past N
        var rotated = [Double](repeating: 0, count: degree)
        for k in 0..<degree {
            let e = (5 * k) % (2 * degree)
            if e < degree { rotated[e] += m[k] } else { rotated[e - degree] -= m[k] }
        }
        let after = try embedding.slots(ofCoefficients: rotated)
        for j in 0..<32 { #expect((after[j] - slots[(j + 1) % 32]).magnitude < 1e-9) }
    }
}

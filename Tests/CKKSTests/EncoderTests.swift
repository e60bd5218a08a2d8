import Foundation
import Testing
import CKKS
import HERing

@Suite("CKKS encoder")
struct EncoderTests {
    static func basis(degree: Int, bits: [Int]) throws -> RNSBasis {
        var primes: [UInt64] = []
        for b in Set(bits).sorted() {
            primes += try Primes.nttPrimes(bits: b, degree: degree, count: bits.filter { $0 == b }.count)
        }
        return try RNSBasis(degree: degree, primes: primes)
    }

    static func values(_ n: Int) -> [Complex] {
        (0..<n).map { Complex(sin(Double($0) * 0.1), cos(Double($0) * 0.07) / 2) }
    }

    @Test("encode/decode round trip: error ≈ rounding/Δ", arguments: [(1 << 12, 30.0, [45]), (1 << 12, 40.0, [50, 50]), (1 << 13, 80.0, [55, 55, 55])])
    func roundTrip(degree: Int, logScale: Double, primeBits: [Int]) throws {
        let basis = try Self.basis(degree: degree, bits: primeBits)
        let encoder = try CKKSEncoder(degree: degree)
        let z = Self.values(degree / 2)
        let scale = Foundation.pow(2.0, logScale)
        let plaintext = try encoder.encode(z, scale: scale, basis: basis)
        // NTT form by type: encode returns RNSPolynomial<Evaluation, OverQ> (this line would not compile otherwise)
        let _: RNSPolynomial<Evaluation, OverQ> = plaintext
        let back = try encoder.decode(plaintext, scale: scale)
        let bits = precisionBits(expected: z, actual: back)
        // rounding moves each coefficient by ≤ ½: slots by ≤ N/(2Δ); double precision caps at ~2⁻⁴⁰
        #expect(bits > min(logScale - log2(Double(degree)) - 1, 40), "precision \(bits) bits")
    }

    @Test("the product of two encodings decodes to the slot-wise product at scale Δ²")
    func productIsSlotwise() throws {
        let degree = 1 << 11
        let basis = try Self.basis(degree: degree, bits: [50, 50, 50])
        let encoder = try CKKSEncoder(degree: degree)
        let a = Self.values(degree / 2), b = Self.values(degree / 2).reversed().map { $0 }
        let scale = Double(UInt64(1) << 40)
        var pa = try encoder.encode(a, scale: scale, basis: basis)
        try pa.multiply(try encoder.encode(b, scale: scale, basis: basis))
        let product = try encoder.decode(pa, scale: scale * scale)
        let bits = precisionBits(expected: zip(a, b).map { $0 * $1 }, actual: product)
        #expect(bits > 25, "precision \(bits) bits")
    }

    @Test("fewer values are zero-padded; bad inputs give typed errors")
    func validation() throws {
        let degree = 64
        let basis = try Self.basis(degree: degree, bits: [40])
        let encoder = try CKKSEncoder(degree: degree)
        let back = try encoder.decodeReal(try encoder.encode([1, 2, 3], scale: 1048576, basis: basis), scale: 1048576)
        #expect(abs(back[2] - 3) < 1e-4 && abs(back[3]) < 1e-4 && abs(back[31]) < 1e-4)
        #expect(throws: CKKSError.tooManySlots(given: 33, available: 32)) {
            try encoder.encode([Double](repeating: 1, count: 33), scale: 2, basis: basis)
        }
        expectError(CKKSError.self, saying: "not a finite number") { try encoder.encode([Double.nan], scale: 2, basis: basis) }
        let other = try Self.basis(degree: 128, bits: [40])
        #expect(throws: CKKSError.degreeMismatch(expected: 64, got: 128)) { try encoder.encode([1], scale: 2, basis: other) }
    }
}

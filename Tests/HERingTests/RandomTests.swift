import Foundation
import Testing
import HERing

func hexBytes(_ hex: String) -> [UInt8] {
    var bytes: [UInt8] = []
    var index = hex.startIndex
    while index < hex.endIndex {
        let next = hex.index(index, offsetBy: 2)
        bytes.append(UInt8(hex[index..<next], radix: 16)!)
        index = next
    }
    return bytes
}

@Suite("ChaCha20 and samplers")
struct RandomTests {
    @Test("RFC 8439 §2.3.2 block function test vector")
    func blockVector() {
        let rng = ChaCha20(key: Array(0..<32), nonce: hexBytes("000000090000004a00000000"), counter: 1)
        let expected = "10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e"
            + "d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e"
        #expect(rng.nextBytes(64) == hexBytes(expected))
    }

    @Test("the eight-lane keystream equals the one-block reference function, across refills")
    func eightLaneMatchesReference() {
        let key = (0..<32).map { UInt8(($0 * 37 + 11) & 0xff) }, nonce = (0..<12).map { UInt8($0 * 5 + 1) }
        let rng = ChaCha20(key: key, nonce: nonce, counter: 3)
        let keyWords = (0..<8).map { i in (0..<4).reduce(UInt32(0)) { $0 | UInt32(key[4 * i + $1]) << (8 * UInt32($1)) } }
        let nonceWords = (0..<3).map { i in (0..<4).reduce(UInt32(0)) { $0 | UInt32(nonce[4 * i + $1]) << (8 * UInt32($1)) } }
        var expected: [UInt32] = []
        for c in UInt32(3)..<UInt32(3 + 20) { expected += ChaCha20.block(key: keyWords, counter: c, nonce: nonceWords) }
        // mixed 32- and 64-bit reads, crossing the 128-word buffer boundary at odd offsets
        var got: [UInt32] = [rng.nextWord()]
        while got.count + 2 <= expected.count {
            let w = rng.next()
            got += [UInt32(truncatingIfNeeded: w), UInt32(truncatingIfNeeded: w >> 32)]
        }
        #expect(got == Array(expected.prefix(got.count)))
    }

    @Test("RFC 8439 §2.4.2 encryption test vector")
    func encryptionVector() {
        let rng = ChaCha20(key: Array(0..<32), nonce: hexBytes("000000000000004a00000000"), counter: 1)
        let message = Array("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.".utf8)
        let expected = "6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0bf91b65c5524733ab8f593dabcd62b357"
            + "1639d624e65152ab8f530c359f0861d807ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab77937365af90bbf"
            + "74a35be6b40b8eedf2785e42874d"
        let ciphertext = rng.xor(message)
        #expect(ciphertext == hexBytes(expected))
        let again = ChaCha20(key: Array(0..<32), nonce: hexBytes("000000000000004a00000000"), counter: 1)
        #expect(again.xor(ciphertext) == message)
    }

    @Test("seed expansion is deterministic and domain-separated (KAT from Tests/Scripts/chacha20_kat.py)")
    func seedExpansion() {
        let seed = [UInt8](repeating: 0x42, count: 32)
        let a = ChaCha20(seed: seed, domain: 7)
        #expect(a.nextBytes(32) == hexBytes("17d55df93fa9af0966deb9ee9b7360f7d852dbb8d43291e9263a400ba24785cc"))
        let b = ChaCha20(seed: seed, domain: 7), c = ChaCha20(seed: seed, domain: 8)
        #expect(b.next() != c.next())
    }

    @Test("system entropy gives distinct keys")
    func systemEntropy() throws {
        let a = try ChaCha20.systemRandomBytes(32), b = try ChaCha20.systemRandomBytes(32)
        #expect(a != b)
        let r1 = try ChaCha20.systemSeeded(), r2 = try ChaCha20.systemSeeded()
        #expect(r1.next() != r2.next())
    }

    /// Near the end of the 32-bit block counter a system-seeded generator takes a new key from
    /// the operating system and goes on (it used to trap); no keystream block repeats.
    @Test("a system-seeded generator rekeys before its block counter wraps")
    func rekeysBeforeWrap() throws {
        let generator = try ChaCha20.systemSeeded(startingAtBlock: UInt32.max - 15)
        var blocks: [[UInt32]] = []
        for _ in 0..<48 { blocks.append((0..<16).map { _ in generator.nextWord() }) }  // 48 blocks: past the end
        #expect(Set(blocks).count == blocks.count)
        #expect(blocks.allSatisfy { $0.contains { $0 != 0 } })
    }

    /// The generator is one state, however many values hold it: what one draws the other never
    /// draws again (a struct copy used to replay the same words: two encryptions with the same
    /// randomness). A fresh generator from the same seed does replay: that is seed expansion.
    @Test("a copy of a generator shares its state and never replays its words")
    func copiesDoNotReplay() {
        let original = ChaCha20(seed: [UInt8](repeating: 3, count: 32))
        let copy = original
        let first = (0..<300).map { _ in original.next() }
        let second = (0..<300).map { _ in copy.next() }
        #expect(Set(first).isDisjoint(with: second))
        let fresh = ChaCha20(seed: [UInt8](repeating: 3, count: 32))
        #expect((0..<300).map { _ in fresh.next() } == first)
    }

    @Test("uniform mod q passes a χ² test and stays in range", arguments: [3, 97, 65537, 1_099_511_627_689])
    func uniformChiSquare(q: UInt64) {
        var rng = ChaCha20(seed: [UInt8](repeating: 1, count: 32), domain: q)
        let buckets = 64
        let samples = 200_000
        var counts = [Int](repeating: 0, count: buckets)
        for _ in 0..<samples {
            let x = Sampler.uniform(below: q, using: &rng)
            #expect(x < q)
            // equal-probability buckets: x·B/q, exact for q < 2⁵⁸
            let bucket = q < UInt64(buckets) ? Int(x) : Int((UInt128(x) * UInt128(buckets)) / UInt128(q))
            counts[bucket] += 1
        }
        let used = q < UInt64(buckets) ? Int(q) : buckets
        // expected counts per bucket (exact bucket sizes for small q)
        var chi2 = 0.0
        for b in 0..<used {
            let low = (UInt128(b) * UInt128(q) + UInt128(buckets) - 1) / UInt128(buckets)
            let high = (UInt128(b + 1) * UInt128(q) + UInt128(buckets) - 1) / UInt128(buckets)
            let p = q < UInt64(buckets) ? 1.0 / Double(q) : Double(high - low) / Double(q)
            let e = p * Double(samples)
            chi2 += pow(Double(counts[b]) - e, 2) / e
        }
        // χ² with used − 1 degrees of freedom: mean k, sd √(2k); 6 sd is a p-value < 10⁻⁸
        let k = Double(used - 1)
        #expect(chi2 < k + 6 * (2 * k).squareRoot() + 10, "χ² = \(chi2) for \(used - 1) degrees of freedom")
    }

    @Test("ternary secrets: values, mean and variance 2/3")
    func ternaryStatistics() {
        var rng = ChaCha20(seed: [UInt8](repeating: 2, count: 32))
        let s = Sampler.ternary(degree: 1 << 17, using: &rng)
        #expect(s.allSatisfy { (-1...1).contains($0) })
        let n = Double(s.count)
        let mean = Double(s.reduce(0, +)) / n
        let variance = Double(s.map { $0 * $0 }.reduce(0, +)) / n - mean * mean
        #expect(abs(mean) < 6 * (2.0 / 3.0 / n).squareRoot())
        #expect(abs(variance - 2.0 / 3.0) < 0.01)
        for v in Int64(-1)...1 {
            let fraction = Double(s.filter { $0 == v }.count) / n
            #expect(abs(fraction - 1.0 / 3.0) < 0.01, "P(\(v)) = \(fraction)")
        }
    }

    @Test("fixed-Hamming-weight ternary")
    func hammingWeight() throws {
        var rng = ChaCha20(seed: [UInt8](repeating: 3, count: 32))
        let s = try Sampler.ternary(degree: 1 << 14, hammingWeight: 192, using: &rng)
        #expect(s.filter { $0 != 0 }.count == 192)
        #expect(s.allSatisfy { (-1...1).contains($0) })
        expectError(HERingError.self, saying: "Hamming weight 17 outside 0 … 16") { try Sampler.ternary(degree: 16, hammingWeight: 17, using: &rng) }
    }

    @Test("discrete Gaussian: range, mean 0, standard deviation 3.2, symmetric shape")
    func gaussianStatistics() {
        var rng = ChaCha20(seed: [UInt8](repeating: 4, count: 32))
        let count = 1 << 20
        let e = Sampler.discreteGaussian(degree: count, using: &rng)
        #expect(e.allSatisfy { abs($0) <= 19 })
        let n = Double(count)
        let mean = Double(e.reduce(0, +)) / n
        let variance = Double(e.map { $0 * $0 }.reduce(0, +)) / n - mean * mean
        // sd of the sample mean is σ/√n ≈ 0.003; of the sample variance ≈ σ²·√(2/n) ≈ 0.014
        #expect(abs(mean) < 0.02, "mean \(mean)")
        #expect(abs(variance.squareRoot() - 3.2) < 0.01, "σ = \(variance.squareRoot())")
        // P(e = 0) = 1/Σρ ≈ 0.1247 for σ = 3.2
        let zeros = Double(e.filter { $0 == 0 }.count) / n
        #expect(abs(zeros - 0.12467) < 0.002, "P(0) = \(zeros)")
        let positive = e.filter { $0 > 0 }.count, negative = e.filter { $0 < 0 }.count
        #expect(abs(Double(positive - negative)) < 6 * Double(positive + negative).squareRoot())
    }
}

import Foundation
import Testing
import CKKS
import HERing

/// Whether the production-size tests run: always in release builds (CI runs `swift test -c
/// release`), in debug builds only with `HEAR_SLOW_TESTS=1`.
let productionTestsEnabled: Bool = {
    #if DEBUG
    return ProcessInfo.processInfo.environment["HEAR_SLOW_TESTS"] == "1"
    #else
    return true
    #endif
}()

/// The presets at N = 2^14, checked end to end against the clear slots (`slow`: release only).
@Suite("slow: CKKS at the production presets", .enabled(if: productionTestsEnabled), .serialized)
struct ProductionPresetTests {
    @Test("encrypt, mul+relin+rescale, rotate, hoist, decrypt at each preset", arguments: ["fast-hear", "hear", "default"])
    func preset(name: String) throws {
        let parameters = try CKKSParameters.preset(named: name)
        let context = CKKSContext(parameters)
        var generator = KeyGenerator(context: context, deterministicSeed: Array(name.utf8) + [UInt8](repeating: 0, count: 32 - name.utf8.count))
        let relinearizationKey = generator.relinearizationKey()
        let galoisKeys = generator.galoisKeys(steps: [1, 16, -512])
        var encryptor = try Encryptor(context: context, publicKey: generator.publicKey())
        let decryptor = try Decryptor(context: context, secretKey: generator.secretKey)
        let evaluator = Evaluator(context: context)
        let n = context.slotCount
        let a = (0..<n).map { sin(Double($0) * 0.01) }, b = (0..<n).map { cos(Double($0) * 0.003) }
        let ca = try encryptor.encrypt(a), cb = try encryptor.encrypt(b)
        let fresh = precision(a, try decryptor.decryptReal(ca))
        // Bounds from the noise analysis (Docs/CKKS.md): a rescale leaves the rounding error
        // τ₀ + τ₁·s, |τ| ≤ ½, whose slots have standard deviation √(N/18)·√N ≈ 2^11.9 and maximum
        // over N/2 slots ≈ 2^14.1, i.e. 2^-(log Δ − 14.1) after dividing by Δ. A fresh public-key
        // encryption (noise divided by P, then rounded) is at the same floor. Measured (max error
        // over the 8192 slots): Fast-HEAR / HEAR fresh 16.7 / 17.0, product 16.3 / 16.4 bits;
        // default (Δ = 2^34) fresh 19.8, product 19.4 bits.
        let floor = Double(parameters.log2Scale) - 14.1
        #expect(fresh > floor - 1, "\(name): fresh precision \(fresh) bits")
        let product = try evaluator.rescale(evaluator.multiply(ca, cb, relinearizationKey: relinearizationKey))
        let productBits = precision(zip(a, b).map(*), try decryptor.decryptReal(product))
        #expect(productBits > floor - 2, "\(name): mul+relin+rescale precision \(productBits) bits (fresh \(fresh))")
        // rotations, plain and hoisted, at the level below the top
        let hoisted = try evaluator.rotations(product, by: [1, 16, -512], keys: galoisKeys)
        for (step, h) in zip([1, 16, -512], hoisted) {
            let expected = rotatedLeft(zip(a, b).map(*), by: step)
            let bits = precision(expected, try decryptor.decryptReal(h))
            // key switching adds Σ_j [c]_{D_j}·e_j/P: with one 33-bit P over 31-bit digits (the
            // paper's chains) ≈ 2^-14.5 at Δ = 2^31 (measured 14.5 … 15.0 bits); with the
            // default's P ≈ 2^82 over 2^76 digits it vanishes (measured 19.2 … 19.3 bits)
            #expect(bits > floor - 3, "\(name): rotation by \(step): \(bits) bits")
            #expect(h == (try evaluator.rotate(product, by: step, keys: galoisKeys)))
        }
        // a square chain down to level 0 keeps decrypting (values stay in [0, 1])
        var x = product, expected = zip(a, b).map(*)
        while x.level > 0 {
            x = try evaluator.rescale(evaluator.square(x, relinearizationKey: relinearizationKey))
            expected = expected.map { $0 * $0 }
        }
        #expect(precision(expected, try decryptor.decryptReal(x)) > 12, "\(name): level 0")
        // sizes of the bit-packed objects
        if name == "fast-hear" {
            #expect(try ca.serialized(context: context).count <= 1_800_000)
            #expect(try evaluator.dropLevel(ca, to: 0).serialized(context: context).count <= 140_000)
        }
    }
}

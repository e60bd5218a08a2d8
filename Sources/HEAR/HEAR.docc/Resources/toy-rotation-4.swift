import CKKS
import Foundation

/// Rotates eight encrypted numbers by one slot on a toy ring, N = 16.
func toyRotation() throws -> (galoisElement: Int, digits: Int, rotated: [Double]) {
    // 1. N = 16: 8 slots. INSECURE — a ring this small is for reading, not for secrets.
    let context = CKKSContext(try .insecureTesting(degree: 16, dataPrimeBits: [40, 30],
                                                   specialPrimeBits: [45], log2Scale: 30))

    // 2. Slot j holds m(ζ^(5^j)), ζ = e^(iπ/16). Replacing X by X^5 moves the value at
    //    ζ^(5^(j+1)) to slot j: a rotation by one slot to the left is the automorphism X → X^5.
    let g = context.galoisElement(forRotation: 1)

    // 3. Applied to a ciphertext (c₀, c₁), the automorphism gives (σ(c₀), σ(c₁)), which decrypts
    //    under σ(s), not s. The Galois key is an encryption of σ(s) under s, split into digits
    //    (small pieces of c₁, each times a key part); the sum switches σ(c₁)·σ(s) to s.
    var keys = try KeyGenerator(context: context)
    let galoisKeys = keys.galoisKeys(steps: [1])
    let digits = galoisKeys.entries[g]!.key.digitCount

    // 4. Encrypt 1 … 8, rotate by one (automorphism, then key switch), decrypt.
    var encryptor = try Encryptor(context: context, publicKey: keys.publicKey())
    let x = try encryptor.encrypt([1, 2, 3, 4, 5, 6, 7, 8])
    let rotated = try Evaluator(context: context).rotate(x, by: 1, keys: galoisKeys)
    let values = try Decryptor(context: context, secretKey: keys.secretKey).decryptReal(rotated)
    print("Galois element \(g), \(digits) digit(s)")
    print(values.map { String(format: "%.3f", $0) }.joined(separator: " "))
    return (g, digits, values)
}

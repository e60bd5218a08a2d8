import CKKS
import Foundation

/// Encrypts four numbers, squares them under encryption and decrypts the squares.
func firstVector() throws {
    // 1. A 128-bit parameter set: N = 2^14 (8192 slots), ten data primes, scale 2^34.
    let context = CKKSContext(.standard())

    // 2. The keys: the secret key stays here; the public and relinearization keys can travel.
    var keys = try KeyGenerator(context: context)
    let publicKey = keys.publicKey()
    let relinearizationKey = keys.relinearizationKey()

    // 3. Encode (scale 2^34, the other slots zero) and encrypt with the public key.
    var encryptor = try Encryptor(context: context, publicKey: publicKey)
    let x = try encryptor.encrypt([0.5, 1.5, -2.0, 3.25])

    // 4. Square under encryption: the product has scale 2^68 and a term in s²; relinearize
    //    it away, then rescale by the last prime (≈ 2^34): one level less.
    let evaluator = Evaluator(context: context)
    let squared = try evaluator.rescale(evaluator.multiply(x, x, relinearizationKey: relinearizationKey))
}

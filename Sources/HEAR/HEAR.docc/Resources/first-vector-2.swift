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
}

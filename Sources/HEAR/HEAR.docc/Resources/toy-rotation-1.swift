import CKKS
import Foundation

/// Rotates eight encrypted numbers by one slot on a toy ring, N = 16.
func toyRotation() throws {
    // 1. N = 16: 8 slots. INSECURE — a ring this small is for reading, not for secrets.
    let context = CKKSContext(try .insecureTesting(degree: 16, dataPrimeBits: [40, 30],
                                                   specialPrimeBits: [45], log2Scale: 30))
}

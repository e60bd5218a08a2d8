import CKKS
import Foundation

/// Rotates eight encrypted numbers by one slot on a toy ring, N = 16.
func toyRotation() throws {
    // 1. N = 16: 8 slots. INSECURE — a ring this small is for reading, not for secrets.
    let context = CKKSContext(try .insecureTesting(degree: 16, dataPrimeBits: [40, 30],
                                                   specialPrimeBits: [45], log2Scale: 30))

    // 2. Slot j holds m(ζ^(5^j)), ζ = e^(iπ/16). Replacing X by X^5 moves the value at
    //    ζ^(5^(j+1)) to slot j: a rotation by one slot to the left is the automorphism X → X^5.
    let g = context.galoisElement(forRotation: 1)
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Wiping secrets. What this can and cannot promise is in Docs/Security.md ("Copies of secrets").

/// Overwrites an array's bytes with zeros in place (through its own storage, so no copy is left
/// behind by copy-on-write), then empties it.
public func wipe(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { buffer in
        guard let base = buffer.baseAddress else { return }
        // memset through a volatile-like loop the optimizer cannot drop: the buffer escapes to
        // an opaque function afterwards.
        for i in 0..<buffer.count { buffer[i] = 0 }
        opaqueUse(base)
    }
    bytes.removeAll()
}

/// Keeps the compiler from proving a wiped buffer dead (it cannot see through this call).
@inline(never) @_optimize(none) func opaqueUse(_ pointer: UnsafeMutableRawPointer) {}

/// Overwrites memory with zeros through a call the optimizer cannot see through (for buffers
/// that held secret material: key bytes, ternary samples, keystream).
@inline(never)
public func wipe(_ buffer: UnsafeMutableRawBufferPointer) {
    guard let base = buffer.baseAddress, buffer.count > 0 else { return }
    memset(base, 0, buffer.count)
    opaqueUse(base)
}

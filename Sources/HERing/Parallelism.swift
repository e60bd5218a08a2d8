import Dispatch
import Foundation

/// The one thread-count setting of the engine, and the parallel loop every layer uses.
///
/// Work is split into independent items (limbs, ciphertexts, channels); each item is computed
/// by exactly one thread in the same order of operations whatever the thread count, so results
/// are bit-identical for any setting.
public enum Parallelism {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var storedThreadCount: Int = {
        if let text = ProcessInfo.processInfo.environment["HEAR_THREADS"], let n = Int(text), n >= 1 { return n }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }()

    /// Threads used by `forEach` (≥ 1). Defaults to the environment variable `HEAR_THREADS`,
    /// else the number of active processors.
    public static var threadCount: Int {
        get { lock.lock(); defer { lock.unlock() }; return storedThreadCount }
        set { lock.lock(); defer { lock.unlock() }; storedThreadCount = max(1, newValue) }
    }

    /// Runs `body(i)` for `i` in `0..<count`, on up to `threadCount` threads. `body` must only
    /// write state that belongs to item `i`.
    @inlinable
    public static func forEach(_ count: Int, _ body: (Int) -> Void) {
        let threads = min(threadCount, count)
        if threads <= 1 {
            for i in 0..<count { body(i) }
            return
        }
        withoutActuallyEscaping(body) { body in
            let box = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: threads) { worker in
                var i = worker
                while i < count {
                    box.value(i)
                    i += threads
                }
            }
        }
    }

    /// [transform(0), …, transform(count − 1)], computed on up to `threadCount` threads; the
    /// result does not depend on the thread count.
    public static func map<R>(_ count: Int, _ transform: (Int) -> R) -> [R] {
        var results = [R?](repeating: nil, count: count)
        results.withUnsafeMutableBufferPointer { buffer in
            let slots = UncheckedSendable(buffer)
            forEach(count) { i in slots.value[i] = transform(i) }
        }
        return results.map { $0! }
    }
}

/// Wraps a value that is shared across threads under a documented discipline (disjoint writes).
public struct UncheckedSendable<Value>: @unchecked Sendable {
    public let value: Value
    @inlinable public init(_ value: Value) { self.value = value }
}

/// Process-wide memory settings for large polynomial buffers.
public enum MemoryTuning {
    /// Keeps freed large blocks in the C heap instead of returning them to the kernel.
    ///
    /// Glibc serves blocks above the mmap threshold (128 KiB to 32 MiB, adaptive) with fresh
    /// `mmap` pages, which the kernel must fault in and zero on first touch: for RNS
    /// polynomials of megabytes allocated and freed per operation that is a quarter of the
    /// time of key generation. A fixed threshold of 32 MiB (glibc's maximum) and no trimming keep the
    /// pages (the role of SEAL's memory pool). Called once by `CKKSContext`; set the environment
    /// variable `HEAR_DEFAULT_MALLOC=1` to leave the allocator alone. No effect outside Linux.
    public static func keepLargeBlocksInHeap() {
        _ = configured
    }

    private static let configured: Bool = {
        #if os(Linux)
        if ProcessInfo.processInfo.environment["HEAR_DEFAULT_MALLOC"] == "1" { return false }
        // mallopt is not exported by the Glibc Swift module: looked up by name
        typealias MallOpt = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return false }
        let mallopt = unsafeBitCast(symbol, to: MallOpt.self)
        _ = mallopt(-3, 32 << 20)         // M_MMAP_THRESHOLD (glibc caps it at 32 MiB)
        _ = mallopt(-1, Int32.max)        // M_TRIM_THRESHOLD
        return true
        #else
        return false
        #endif
    }()
}

/// Wall seconds since `start`, a reading of `DispatchTime.now().uptimeNanoseconds`: the one
/// stopwatch of the step timings (program phases, key generation, weight encoding, epochs).
public func wallSeconds(since start: UInt64) -> Double {
    Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

import Dispatch
import Foundation

/// A thread-count setting, and the parallel loop every layer runs under it.
///
/// There is no process-wide thread count: a `CKKSContext` is built with one (and hands it to
/// the RNS bases it builds, so that every polynomial operation in that context uses it), a
/// network trainer or a batch of plaintext inferences takes one as an argument. The command
/// line reads `HEAR_THREADS` and `--threads` for its own process.
///
/// Work is split into independent items (limbs, ciphertexts, channels); each item is computed
/// by exactly one thread in the same order of operations whatever the thread count, so results
/// are bit-identical for any setting.
public struct Parallelism: Sendable, Hashable, CustomStringConvertible {
    /// Threads used by `forEach` (≥ 1).
    public let threadCount: Int

    /// - Throws: `HERingError.invalidArgument` unless `1 ≤ threads ≤ 4096`.
    public init(threads: Int) throws(HERingError) {
        guard (1...4096).contains(threads) else {
            throw .invalidArgument("a thread count must be between 1 and 4096, not \(threads)")
        }
        threadCount = threads
    }

    @usableFromInline init(uncheckedThreads: Int) { threadCount = uncheckedThreads }

    /// One thread: every loop runs in order on the caller's thread.
    public static let serial = Parallelism(uncheckedThreads: 1)

    /// One thread per active processor of this machine.
    public static var allProcessors: Parallelism {
        Parallelism(uncheckedThreads: min(4096, max(1, ProcessInfo.processInfo.activeProcessorCount)))
    }

    public var description: String { threadCount == 1 ? "1 thread" : "\(threadCount) threads" }

    /// Runs `body(i)` for `i` in `0..<count`, on up to `threadCount` threads (thread `w` takes
    /// the items `w, w + threads, …`). `body` must only write state that belongs to item `i`.
    @inlinable
    public func forEach(_ count: Int, _ body: (Int) -> Void) {
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
    public func map<R>(_ count: Int, _ transform: (Int) -> R) -> [R] {
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

/// Memory-allocator settings for a process that runs large polynomial workloads. The library
/// never calls this itself (it would change the allocator of whatever process hosts it): the
/// `hear` command line and the benchmarks call it for their own process.
public enum MemoryTuning {
    /// Keeps freed large blocks in the C heap instead of returning them to the kernel.
    ///
    /// Glibc serves blocks above the mmap threshold (128 KiB to 32 MiB, adaptive) with fresh
    /// `mmap` pages, which the kernel must fault in and zero on first touch: for RNS
    /// polynomials of megabytes allocated and freed per operation that is a quarter of the
    /// time of key generation. A fixed threshold of 32 MiB (glibc's maximum) and no trimming keep the
    /// pages (the role of SEAL's memory pool). Idempotent; the environment variable
    /// `HEAR_DEFAULT_MALLOC=1` makes it a no-op (to measure without it). No effect outside Linux.
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

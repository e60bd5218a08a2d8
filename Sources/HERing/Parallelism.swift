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
}

/// Wraps a value that is shared across threads under a documented discipline (disjoint writes).
public struct UncheckedSendable<Value>: @unchecked Sendable {
    public let value: Value
    @inlinable public init(_ value: Value) { self.value = value }
}

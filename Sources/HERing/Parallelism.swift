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

    /// A setting of `threads` threads.
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

    /// "1 thread" or "n threads".
    public var description: String { threadCount == 1 ? "1 thread" : "\(threadCount) threads" }

    /// Threads a loop started here may use: `threadCount`, at most one per processor of the
    /// machine (`processors`), and less inside an item of an enclosing loop (its share of the
    /// threads, see `forEach`). A kernel that splits its own work (partial sums, say) sizes it
    /// by this.
    public var availableThreads: Int { min(threadCount, Self.processors, ThreadShare.current) }

    /// The active processors of this machine, read once. Dispatch never runs more of a loop's
    /// workers at once than there are processors, so a setting above it (16 threads on 2 cores)
    /// would only split the items' own loops into shares that no processor is free to run, and
    /// pay their joins: loops are scheduled as for `processors` threads, with the same results.
    public static let processors = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Runs `body(i)` for `i` in `0..<count` on `w = min(availableThreads, count)` threads.
    ///
    /// Schedule: the workers take the items in order, each the next one not yet taken when it is
    /// free (dynamic, so unequal items balance). Nesting: the loops an item runs get the item's
    /// share of the threads, `⌊availableThreads / w⌋` (at least 1), so that parallelism goes to
    /// the widest dimension first: a stage of 8 independent ciphertexts on 2 threads runs each
    /// ciphertext's limb loops on its own thread (no joins inside), one ciphertext on 16 threads
    /// gives its loops all 16. `body` must only write state that belongs to item `i`; each item
    /// runs on one thread in its own fixed order, so results do not depend on the thread count
    /// or on which thread took which item.
    @inlinable
    public func forEach(_ count: Int, _ body: (Int) -> Void) {
        forEachItem(count) { _, i in body(i) }
    }

    /// `forEach`'s loop with the worker index: `body(worker, item)` (`worker` below
    /// `min(availableThreads, count)`), recorded when a `ParallelProfile` is installed.
    @usableFromInline
    func forEachItem(_ count: Int, _ body: (Int, Int) -> Void) {
        if let recorder = ParallelProfile.installed {
            return recorder.forEach(count, parallelism: self, body)
        }
        guard threadCount > 1, count > 1 else {
            for i in 0..<count { body(0, i) }
            return
        }
        Schedule.run(count, available: availableThreads, body, timing: nil)
    }

    /// A reduction over `0..<count`: the items scheduled as by `forEach`, each added by
    /// `body(&accumulator, i)` into the accumulator of the worker that runs it (one per worker,
    /// made by `initial` at its first item). Returns the accumulators, at most
    /// `availableThreads` of them, for the caller to combine. Which items meet in one accumulator
    /// depends on the threads and their timing, so the caller's combination must not depend on it
    /// (sums of residues modulo q: exact, in any grouping). Memory: one accumulator per worker,
    /// however many items.
    public func reduce<Accumulator>(_ count: Int, initial: () -> Accumulator,
                                    _ body: (inout Accumulator, Int) -> Void) -> [Accumulator] {
        let workers = max(1, min(availableThreads, count))
        var accumulators = [Accumulator?](repeating: nil, count: workers)
        accumulators.withUnsafeMutableBufferPointer { buffer in
            let slots = UncheckedSendable(buffer)
            forEachItem(count) { worker, i in
                if slots.value[worker] == nil { slots.value[worker] = initial() }
                body(&slots.value[worker]!, i)
            }
        }
        return accumulators.compactMap { $0 }
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

/// The share of the threads a loop may use on this thread: set by `Schedule.run` on each worker
/// for the items it runs (`⌊available / workers⌋`), unset (no limit) elsewhere. A thread-local
/// value, so that the kernels below a stage need no extra argument.
@usableFromInline
enum ThreadShare {
    static let key: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "no thread-local key left for the thread share")
        return key
    }()

    /// The share on this thread (`Int.max` when none is set).
    @usableFromInline static var current: Int {
        let raw = Int(bitPattern: pthread_getspecific(key))
        return raw <= 0 ? Int.max : raw
    }

    /// Runs `body` with `share` as this thread's share, then puts the previous one back.
    static func with(_ share: Int, _ body: () -> Void) {
        let saved = pthread_getspecific(key)
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: share))
        body()
        pthread_setspecific(key, saved)
    }
}

/// The one schedule of every parallel loop (`Parallelism.forEach`, and the same loops while a
/// `ParallelProfile` records them): `min(available, count)` workers on `concurrentPerform`, each
/// taking the next untaken item in order, each item's own loops limited to the worker's share.
@usableFromInline
enum Schedule {
    /// Where a recording wants its clock readings: per worker its busy seconds, per item its
    /// duration, and a call on the thread of each item before it starts.
    @usableFromInline struct Timing: Sendable {
        let busy: UncheckedSendable<UnsafeMutableBufferPointer<Double>>
        let items: UncheckedSendable<UnsafeMutableBufferPointer<Double>>
        let itemStarts: @Sendable () -> Void
    }

    /// The next item index, handed out under a lock (one take per item: the items are whole
    /// ciphertext operations or limbs of 2¹⁴ residues, microseconds to milliseconds each).
    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var next = 0
        func take(below count: Int) -> Int? {
            lock.lock()
            defer { lock.unlock() }
            guard next < count else { return nil }
            next += 1
            return next - 1
        }
    }

    /// Runs `body(worker, item)` for every item (`worker` < `min(available, count)`).
    @usableFromInline
    static func run(_ count: Int, available: Int, _ body: (Int, Int) -> Void, timing: Timing?) {
        let workers = min(available, count)
        @Sendable func item(_ w: Int, _ i: Int, _ body: (Int, Int) -> Void) {
            guard let timing else { return body(w, i) }
            timing.itemStarts()
            let begin = DispatchTime.now().uptimeNanoseconds
            body(w, i)
            timing.items.value[i] = wallSeconds(since: begin)
        }
        if workers <= 1 {   // one item keeps the caller's whole share for its own loops
            let begin = DispatchTime.now().uptimeNanoseconds
            for i in 0..<count { item(0, i, body) }
            if let timing, count > 0 { timing.busy.value[0] = wallSeconds(since: begin) }
            return
        }
        let share = max(1, available / workers)
        let counter = Counter()
        withoutActuallyEscaping(body) { body in
            let box = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                ThreadShare.with(share) {
                    let begin = DispatchTime.now().uptimeNanoseconds
                    while let i = counter.take(below: count) { item(w, i, box.value) }
                    if let timing { timing.busy.value[w] = wallSeconds(since: begin) }
                }
            }
        }
    }
}

/// The work and span of the parallel loops of a computation, for the work/span (Amdahl) model
/// of `Docs/Performance.md` §8: installed for the duration of `record(_:)` (one recording per
/// process at a time; the benchmarks use it, the library never installs it), it times every
/// `Parallelism.forEach` called while it is installed.
///
/// A loop called from the recording thread outside any other loop is *top-level*; for it the
/// recording keeps the wall time, each worker's busy time (the rest of the wall time is that
/// worker's wait at the join) and each item's duration. A loop inside a top-level item, on the
/// recording thread, is *inner*: its wall time and width are added to that item (`innerWork`),
/// so that a one-thread recording says how much of each item could itself run in parallel and
/// over how many limbs. Inner loops on other threads are not recorded (a several-thread
/// recording gives the top level: busy, wait, wall). The same loops run as without recording
/// (same items on the same workers), so the results are the same; the clock readings add about
/// a microsecond a loop.
public final class ParallelProfile: @unchecked Sendable {
    /// One top-level loop.
    public struct Loop: Sendable {
        /// Label of the phase it ran in (`phase` when it started).
        public var phase: String
        /// Items and the workers that ran them (`min(threads, items)`).
        public var items: Int
        /// Workers that ran the items (`min(threads, items)`).
        public var workers: Int
        /// Seconds from the start of the loop to its join.
        public var wall: Double
        /// Per worker: seconds running items (the rest of `wall` is waiting at the join).
        public var workerBusy: [Double]
        /// Per item: its duration, and the wall seconds of the inner loops it ran, by their width.
        public var itemSeconds: [Double]
        /// Per item: the wall seconds of the inner loops it ran, keyed by their width (items).
        public var innerWork: [[Int: Double]]
        /// Inner loops run by the items (on the recording thread), all widths together.
        public var innerLoops: Int

        /// A loop record (used by the recorder and by tests that model a schedule).
        public init(phase: String, items: Int, workers: Int, wall: Double, workerBusy: [Double],
                    itemSeconds: [Double], innerWork: [[Int: Double]], innerLoops: Int = 0) {
            self.innerLoops = innerLoops
            self.phase = phase
            self.items = items
            self.workers = workers
            self.wall = wall
            self.workerBusy = workerBusy
            self.itemSeconds = itemSeconds
            self.innerWork = innerWork
        }
    }

    /// Top-level loops, in order.
    public private(set) var loops: [Loop] = []
    /// Wall seconds of `record(_:)`, per phase label, and in all.
    public private(set) var phaseWall: [String: Double] = [:]
    /// Wall seconds of `record(_:)` in all.
    public private(set) var wall: Double = 0
    /// Phase labels in the order they were first set.
    public private(set) var phases: [String] = []
    /// How many distinct threads ran items of top-level loops (the proof that a several-thread
    /// setting really ran on several threads).
    public var distinctThreads: Int {
        lock.lock()
        defer { lock.unlock() }
        return itemThreads.count
    }
    private var itemThreads: [pthread_t] = []

    private let lock = NSLock()
    private let recordingThread = pthread_self()
    private var inTopLevel = false
    /// Inner loops in progress on the recording thread (only the outermost is added to its item).
    private var innerDepth = 0
    private var currentItemInner: [Int: Double]? = nil
    private var innerLoopCount = 0
    private var phase = ""
    private var phaseStart: UInt64 = 0

    /// The recorder installed by `record(_:)` in progress, if any.
    public private(set) nonisolated(unsafe) static var installed: ParallelProfile?
    private static let installLock = NSLock()

    private init() {}

    /// Runs `body` with a recorder installed and returns both. Not reentrant: a recording in
    /// progress (on any thread) makes this one wait.
    public static func record<R>(_ body: (ParallelProfile) throws -> R) rethrows -> (R, ParallelProfile) {
        installLock.lock()
        defer { installLock.unlock() }
        let recorder = ParallelProfile()
        installed = recorder
        defer { installed = nil }
        let start = DispatchTime.now().uptimeNanoseconds
        recorder.phaseStart = start
        let result = try body(recorder)
        recorder.closePhase()
        recorder.wall = wallSeconds(since: start)
        return (result, recorder)
    }

    /// Labels the loops that follow (called between loops on the recording thread: the
    /// interpreter names its phases "block1", …).
    public func setPhase(_ label: String) {
        guard pthread_equal(pthread_self(), recordingThread) != 0, label != phase else { return }
        closePhase()
        phase = label
        if !phases.contains(label) { phases.append(label) }
    }

    /// Adds the time since the last label to the current phase ("" before the first label).
    private func closePhase() {
        let now = DispatchTime.now().uptimeNanoseconds
        phaseWall[phase, default: 0] += Double(now - phaseStart) / 1e9
        phaseStart = now
    }

    @usableFromInline
    func forEach(_ count: Int, parallelism: Parallelism, _ body: (Int, Int) -> Void) {
        let available = parallelism.availableThreads
        let onRecordingThread = pthread_equal(pthread_self(), recordingThread) != 0
        if !onRecordingThread || inTopLevel {
            // inner: timed into the current top-level item when it runs on the recording thread
            let start = DispatchTime.now().uptimeNanoseconds
            if onRecordingThread { innerDepth += 1 }
            Schedule.run(count, available: available, body, timing: nil)
            if onRecordingThread {
                innerDepth -= 1
                if innerDepth == 0, currentItemInner != nil {
                    currentItemInner![count, default: 0] += wallSeconds(since: start)
                    innerLoopCount += 1
                }
            }
            return
        }
        inTopLevel = true
        innerLoopCount = 0
        defer { inTopLevel = false }
        let workers = min(available, count)
        var busy = [Double](repeating: 0, count: max(workers, 1))
        var items = [Double](repeating: 0, count: count)
        var inner = [[Int: Double]](repeating: [:], count: count)
        let start = DispatchTime.now().uptimeNanoseconds
        busy.withUnsafeMutableBufferPointer { busyBuffer in
            items.withUnsafeMutableBufferPointer { itemBuffer in
                inner.withUnsafeMutableBufferPointer { innerBuffer in
                    let innerSlots = UncheckedSendable(innerBuffer)
                    let timing = Schedule.Timing(busy: UncheckedSendable(busyBuffer), items: UncheckedSendable(itemBuffer),
                                                 itemStarts: { self.noteItemThread() })
                    Schedule.run(count, available: available, { w, i in
                        guard pthread_equal(pthread_self(), self.recordingThread) != 0 else { return body(w, i) }
                        self.currentItemInner = [:]
                        body(w, i)
                        innerSlots.value[i] = self.currentItemInner!
                        self.currentItemInner = nil
                    }, timing: timing)
                }
            }
        }
        let loop = Loop(phase: phase, items: count, workers: max(workers, 1), wall: wallSeconds(since: start),
                        workerBusy: busy, itemSeconds: items, innerWork: inner, innerLoops: innerLoopCount)
        lock.lock()
        loops.append(loop)
        lock.unlock()
    }

    /// Seconds of `phase` (all phases when nil) outside top-level loops: the serial part.
    public func serialSeconds(phase: String? = nil) -> Double {
        let total = phase.map { phaseWall[$0] ?? 0 } ?? wall
        return max(0, total - loops.filter { phase == nil || $0.phase == phase }.reduce(0) { $0 + $1.wall })
    }

    /// Per worker index: busy seconds over the top-level loops of `phase` (all when nil), and
    /// the seconds it waited at their joins.
    public func workerTotals(phase: String? = nil) -> [(busy: Double, wait: Double)] {
        var totals: [(busy: Double, wait: Double)] = []
        for loop in loops where phase == nil || loop.phase == phase {
            for (w, busy) in loop.workerBusy.enumerated() {
                if totals.count <= w { totals.append((0, 0)) }
                totals[w].busy += busy
                totals[w].wait += max(0, loop.wall - busy)
            }
        }
        return totals
    }

    /// The work/span model's wall time at `threads` threads, from a **one-thread** recording
    /// (nil otherwise): the serial part, plus for each top-level loop the busiest worker under
    /// `forEach`'s schedule (each item, in order, to the worker that is free first), where an item
    /// of duration `t` with inner loops of width `n` and seconds `I` takes `t − ΣI + Σ I·⌈n/q⌉/n`
    /// with `q = ⌊threads / workers⌋`, the item's share of the threads. It assumes perfect
    /// scaling inside those bounds: no synchronisation cost, no memory bandwidth limit, items
    /// that keep their one-thread duration.
    public func predictedSeconds(threads p: Int, phase: String? = nil) -> Double? {
        Self.predictedSeconds(threads: p, serial: serialSeconds(phase: phase),
                              loops: loops.filter { phase == nil || $0.phase == phase })
    }

    /// The model itself, on a serial time and the top-level loops of a one-thread recording.
    public static func predictedSeconds(threads p: Int, serial: Double, loops: [Loop]) -> Double? {
        guard p >= 1, loops.allSatisfy({ $0.workers <= 1 }) else { return nil }
        var total = serial
        for loop in loops {
            let workers = min(p, loop.items)
            guard workers > 0 else { continue }
            let q = max(1, p / workers)
            var perWorker = [Double](repeating: 0, count: workers)
            for i in 0..<loop.items {
                var seconds = loop.itemSeconds[i]
                for (n, inner) in loop.innerWork[i] where n > 0 {
                    seconds += inner * (Double((n + q - 1) / q) / Double(n)) - inner
                }
                let free = perWorker.indices.min { perWorker[$0] < perWorker[$1] }!
                perWorker[free] += seconds
            }
            total += perWorker.max() ?? 0
        }
        return total
    }

    private func noteItemThread() {
        let me = pthread_self()
        lock.lock()
        if !itemThreads.contains(where: { pthread_equal($0, me) != 0 }) { itemThreads.append(me) }
        lock.unlock()
    }
}

/// Wraps a value that is shared across threads under a documented discipline (disjoint writes).
public struct UncheckedSendable<Value>: @unchecked Sendable {
    /// The wrapped value.
    public let value: Value
    /// Wraps `value`; the caller vouches that its uses from several threads do not race.
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

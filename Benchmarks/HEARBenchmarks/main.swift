// HEARBenchmarks: micro-benchmarks of the engine, one JSON object per line.
//
//   swift run -c release HEARBenchmarks ntt      NTT forward/inverse, N = 2^12 … 2^16, 31- and 60-bit
//                                                primes (eight-lane and scalar kernels), vector mulmods,
//                                                and the parallel NTT of a 12-limb polynomial
//   swift run -c release HEARBenchmarks ckks [--preset fast-hear|hear|default] [--threads N]
//                                                the CKKS operations at a preset (peer op names)
//   swift run -c release HEARBenchmarks inference [--model M] [--method fast-hear|hear] [--threads N] [--samples K]
//                                                the encrypted network on the first K test samples: one line
//                                                per phase (keygen, encode_weights, encrypt, block1-3, dense,
//                                                decrypt, inference; wall time), then peak_rss_mb and the counts
//   swift run -c release HEARBenchmarks all      everything but ckks and inference
//
// Single-thread timings use thread CPU time (CLOCK_THREAD_CPUTIME_ID), so that other load on a
// shared machine does not count; multi-thread timings use wall time. Medians and minima over
// at least 50 runs.
import Foundation
import HERing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

func threadCPUNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

func wallNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Runs `body` `runs` times after 5 warm-up runs; returns (median, min) in microseconds.
func measure(runs: Int = 101, warmup: Int = 5, wallClock: Bool = false, _ body: () -> Void) -> (median: Double, min: Double) {
    let clock = wallClock ? wallNanoseconds : threadCPUNanoseconds
    for _ in 0..<warmup { body() }
    var samples: [Double] = []
    samples.reserveCapacity(runs)
    for _ in 0..<runs {
        let t0 = clock()
        body()
        samples.append(Double(clock() - t0) / 1000)
    }
    samples.sort()
    return (samples[samples.count / 2], samples[0])
}

func emit(_ fields: [(String, Any)]) {
    let body = fields.map { key, value -> String in
        switch value {
        case let s as String: return "\"\(key)\":\"\(s)\""
        case let d as Double: return "\"\(key)\":\(String(format: key.hasSuffix("_s") ? "%.4f" : "%.2f", d))"
        default: return "\"\(key)\":\(value)"
        }
    }
    print("{" + body.joined(separator: ",") + "}")
    fflush(nil)
}

func benchmarkNTT() throws {
    for logN in 12...16 {
        let n = 1 << logN
        for bits in [31, 60] {
            let q = try Primes.nttPrimes(bits: bits, degree: n, count: 1)[0]
            let tables = try NTTTables(degree: n, modulus: Modulus(q))
            var rng = ChaCha20(seed: [UInt8](repeating: 9, count: 32))
            var data = (0..<n).map { _ in Sampler.uniform(below: q, using: &rng) }
            let runs = logN >= 15 ? 61 : 201
            data.withUnsafeMutableBufferPointer { buffer in
                let p = buffer.baseAddress!
                let kernel = NTTKernels.useVectorKernels ? "simd8" : "scalar"
                let fwd = measure(runs: runs) { tables.forward(p) }
                emit([("op", "ntt_forward"), ("logN", logN), ("bits", bits), ("threads", 1), ("kernel", kernel),
                      ("median_us", fwd.median), ("min_us", fwd.min)])
                let inv = measure(runs: runs) { tables.inverse(p) }
                emit([("op", "ntt_inverse"), ("logN", logN), ("bits", bits), ("threads", 1), ("kernel", kernel),
                      ("median_us", inv.median), ("min_us", inv.min)])
                if NTTKernels.useVectorKernels {
                    // the portable scalar kernels, for comparison
                    tables.forwardTwiddles.withUnsafeBufferPointer { w in
                        tables.forwardTwiddlesShoup.withUnsafeBufferPointer { ws in
                            let s = measure(runs: runs) {
                                NTTKernels.forward(p, degree: n, q: q, twiddles: w.baseAddress!, twiddlesShoup: ws.baseAddress!)
                            }
                            emit([("op", "ntt_forward"), ("logN", logN), ("bits", bits), ("threads", 1), ("kernel", "scalar"),
                                  ("median_us", s.median), ("min_us", s.min)])
                        }
                    }
                    tables.inverseTwiddles.withUnsafeBufferPointer { w in
                        tables.inverseTwiddlesShoup.withUnsafeBufferPointer { ws in
                            let s = measure(runs: runs) {
                                NTTKernels.inverse(p, degree: n, q: q, twiddles: w.baseAddress!, twiddlesShoup: ws.baseAddress!,
                                                   inverseDegree: tables.inverseDegree, inverseDegreeShoup: tables.inverseDegreeShoup)
                            }
                            emit([("op", "ntt_inverse"), ("logN", logN), ("bits", bits), ("threads", 1), ("kernel", "scalar"),
                                  ("median_us", s.median), ("min_us", s.min)])
                        }
                    }
                }
            }
        }
    }
}

func benchmarkMulmod() throws {
    let count = 16384
    for bits in [31, 60] {
        let m = Modulus(try Primes.nttPrimes(bits: bits, degree: count, count: 1)[0])
        var rng = ChaCha20(seed: [UInt8](repeating: 7, count: 32))
        let x = (0..<count).map { _ in Sampler.uniform(below: m.q, using: &rng) }
        let y = (0..<count).map { _ in Sampler.uniform(below: m.q, using: &rng) }
        let yMontgomery = y.map { m.toMontgomery($0) }
        let w = y[0], ws = m.shoup(w)
        var out = [UInt64](repeating: 0, count: count)
        x.withUnsafeBufferPointer { xb in
            y.withUnsafeBufferPointer { yb in
                yMontgomery.withUnsafeBufferPointer { mb in
                    out.withUnsafeMutableBufferPointer { ob in
                        let xp = xb.baseAddress!, yp = yb.baseAddress!, mp = mb.baseAddress!, op = ob.baseAddress!
                        let shoup = measure { for i in 0..<count { op[i] = m.multiply(xp[i], by: w, shoup: ws) } }
                        emit([("op", "mulmod_shoup"), ("count", count), ("bits", bits), ("threads", 1),
                              ("median_us", shoup.median), ("min_us", shoup.min)])
                        let montgomery = measure { for i in 0..<count { op[i] = m.multiplyMontgomery(xp[i], mp[i]) } }
                        emit([("op", "mulmod_montgomery"), ("count", count), ("bits", bits), ("threads", 1),
                              ("median_us", montgomery.median), ("min_us", montgomery.min)])
                        let barrett = measure { for i in 0..<count { op[i] = m.multiply(xp[i], yp[i]) } }
                        emit([("op", "mulmod_barrett"), ("count", count), ("bits", bits), ("threads", 1),
                              ("median_us", barrett.median), ("min_us", barrett.min)])
                    }
                }
            }
        }
        precondition(out[1] == m.multiply(x[1], y[1]), "benchmark result check")
    }
}

func benchmarkPolynomialNTT() throws {
    let n = 1 << 14, limbs = 12
    let basis = try RNSBasis(degree: n, primes: Primes.nttPrimes(bits: 31, degree: n, count: limbs))
    var rng = ChaCha20(seed: [UInt8](repeating: 5, count: 32))
    let polynomial: RNSPolynomial<Coefficient, OverQ> = Sampler.uniformPolynomial(basis: basis, using: &rng)
    for threads in [1, 2] {
        // the same residues over the same primes, in a basis that runs on `threads` threads
        let threaded = try RNSBasis(tables: basis.nttTables, parallelism: try Parallelism(threads: threads))
        // held in an optional so that each round trip moves it through both transforms (no copy)
        var p: RNSPolynomial<Coefficient, OverQ>? = try RNSPolynomial(basis: threaded, data: polynomial.data)
        let r = measure(runs: 51, wallClock: true) { p = p.take()!.forwardNTT().inverseNTT() }
        emit([("op", "poly_ntt_roundtrip"), ("logN", 14), ("limbs", limbs), ("bits", 31), ("threads", threads),
              ("median_us", r.median), ("min_us", r.min), ("clock", "wall")])
    }
}

/// Runs a suite that takes options; a bad option or a failure is one line on stderr, exit 2.
func runSuite(_ name: String, _ body: () throws -> Void) {
    do { try body() } catch {
        FileHandle.standardError.write("HEARBenchmarks \(name): \(error)\n".data(using: .utf8)!)
        exit(2)
    }
}

// the benchmark process keeps large polynomial buffers in its heap, as the `hear` command does
MemoryTuning.keepLargeBlocksInHeap()
let arguments = CommandLine.arguments.dropFirst()
let suite = arguments.first ?? "ntt"
switch suite {
case "ntt":
    try benchmarkNTT()
    try benchmarkMulmod()
    try benchmarkPolynomialNTT()
case "poly":
    try benchmarkPolynomialNTT()
case "all":
    try benchmarkNTT()
    try benchmarkMulmod()
    try benchmarkPolynomialNTT()
case "ckks":
    runSuite("ckks") { try benchmarkCKKS(CKKSBenchmarkOptions(Array(arguments.dropFirst()))) }
case "inference":
    runSuite("inference") { try benchmarkInference(InferenceBenchmarkOptions(Array(arguments.dropFirst()))) }
case "crypto":
    benchmarkCrypto()
case "files":
    runSuite("files") { try benchmarkFiles(InferenceBenchmarkOptions(Array(arguments.dropFirst()))) }
case "--help", "-h", "help":
    print("""
        usage: HEARBenchmarks [ntt | poly | all]                       (one JSON object per line)
               HEARBenchmarks ckks [--preset hear|fast-hear|default] [--threads N]
               HEARBenchmarks inference [--model <name|dir>] [--method fast-hear|hear] [--threads N] [--samples K]
                                        [--preset default|hear|fast-hear] [--data <dir>] [--weights-memory <MB>|all]
                                        [--packing auto|real|complex] [--profile yes|no] [--parallel-profile yes|no]
               HEARBenchmarks files [--model <name|dir>] [--method fast-hear|hear] [--threads N] [--preset default|seal-style]
                                    (sizes of the party files, time to write and to read them back)
               HEARBenchmarks crypto               (SHA-256/512 over 100 MB, HMAC, Ed25519 sign and verify)
        """)
default:
    FileHandle.standardError.write("unknown benchmark suite '\(suite)'; use ntt, poly, all, ckks, inference, files or crypto\n".data(using: .utf8)!)
    exit(2)
}

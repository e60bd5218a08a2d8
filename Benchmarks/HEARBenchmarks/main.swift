import HERing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Thread CPU time in nanoseconds (the machine may be shared: wall time would count others' work).
func threadCPUNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

let logN = 14
let n = 1 << logN
let q = try Primes.nttPrimes(bits: 60, degree: n, count: 1)[0]
let tables = try NTTTables(degree: n, modulus: Modulus(q))
var data = (0..<n).map { UInt64($0) &* 0x9E3779B97F4A7C15 % q }
var samples: [Double] = []
data.withUnsafeMutableBufferPointer { b in
    for _ in 0..<200 {
        let t0 = threadCPUNanoseconds()
        tables.forward(b.baseAddress!)
        let t1 = threadCPUNanoseconds()
        samples.append(Double(t1 - t0) / 1000)
    }
}
samples.sort()
print("median", samples[samples.count / 2], "min", samples[0])

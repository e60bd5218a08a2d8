// swift-tools-version:6.0
//
// HEAR in Swift: a from-scratch RNS-CKKS engine and encrypted human action recognition.
// No package dependencies: the standard library, Foundation, Dispatch and the test libraries only.
import Foundation
import PackageDescription

/// Code generation for the build machine's vector units.
///
/// The NTT and the other hot loops are written once with `SIMD8<UInt64>`. On an x86-64 CPU with
/// AVX-512 (F, DQ, VL, BW) the compiler turns them into 512-bit instructions; with AVX2 into
/// 256-bit ones. Measured on our Zen 4 machine, forward NTT N = 2^14: 55 µs (AVX-512),
/// 83 µs (AVX2), 175 µs (portable scalar). Like `-march=native`, the default looks at the
/// machine that builds; the eight-lane kernels are enabled for those CPUs only (compilation
/// condition HERING_VECTOR_NTT), the scalar kernels everywhere else.
///   HEAR_TARGET_CPU=<llvm cpu>  use that CPU (e.g. znver4, skylake-avx512, haswell, x86-64);
///   HEAR_PORTABLE=1             baseline code that runs on any x86-64 / arm64 machine.
///
/// `-target-cpu` is an unsafe flag, which SwiftPM refuses in a package that another package
/// depends on by version. So these settings apply only when this package is built on its own
/// (or as a local `path:` dependency). As a versioned dependency — checked out under
/// `.build/checkouts/` or Xcode's `SourcePackages/checkouts/` — it builds portable code, and the
/// consumer turns the vector kernels on for the whole build with
///     swift build -c release -Xswiftc -target-cpu -Xswiftc native -Xswiftc -DHERING_VECTOR_NTT
func vectorSettings() -> [SwiftSetting] {
    let environment = ProcessInfo.processInfo.environment
    if environment["HEAR_PORTABLE"] == "1" { return [] }
    let directory = Context.packageDirectory
    if directory.contains("/.build/checkouts/") || directory.contains("/SourcePackages/checkouts/") { return [] }
    var cpu = environment["HEAR_TARGET_CPU"]
    #if os(Linux) && arch(x86_64)
    if cpu == nil, let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
       let flagsLine = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) {
        let flags = Set(flagsLine.split(separator: " ").map(String.init))
        if ["avx512f", "avx512dq", "avx512vl", "avx512bw", "avx512cd"].allSatisfy(flags.contains) {
            cpu = info.contains("AuthenticAMD") ? "znver4" : "skylake-avx512"
        } else if ["avx2", "bmi1", "bmi2", "fma", "movbe", "f16c"].allSatisfy(flags.contains) {
            cpu = "haswell"
        }
    }
    #endif
    guard let cpu, !cpu.isEmpty, cpu != "x86-64" else { return [] }
    let vectorCPUs: Set<String> = [
        "haswell", "broadwell", "skylake", "alderlake", "raptorlake", "meteorlake", "arrowlake",
        "znver1", "znver2", "znver3", "znver4", "znver5",
        "skylake-avx512", "skx", "cascadelake", "cooperlake", "cannonlake", "icelake-server",
        "icelake-client", "tigerlake", "rocketlake", "sapphirerapids", "emeraldrapids", "graniterapids",
    ]
    var settings: [SwiftSetting] = [.unsafeFlags(["-target-cpu", cpu])]
    if vectorCPUs.contains(cpu) { settings.append(.define("HERING_VECTOR_NTT")) }
    return settings
}

let optimized = vectorSettings()

let package = Package(
    name: "HEAR",
    products: [
        .library(name: "HEARCrypto", targets: ["HEARCrypto"]),
        .library(name: "HERing", targets: ["HERing"]),
        .library(name: "CKKS", targets: ["CKKS"]),
        .library(name: "HETensor", targets: ["HETensor"]),
        .library(name: "HEAR", targets: ["HEAR"]),
        .library(name: "HEARTraining", targets: ["HEARTraining"]),
        .executable(name: "hear", targets: ["HEARCommand"]),
    ],
    dependencies: [],
    targets: [
        // The classical primitives (SHA-256, Ed25519, ChaCha20, wiping), in one place for an auditor.
        // Imports nothing of ours.
        .target(name: "HEARCrypto", swiftSettings: optimized),
        .testTarget(name: "HEARCryptoTests", dependencies: ["HEARCrypto"], swiftSettings: optimized),
        // Layer 1: word-size modular arithmetic, primes, NTT, RNS polynomials, base conversion,
        // automorphisms and the samplers (their randomness: HEARCrypto's ChaCha20). Imports HEARCrypto only.
        .target(name: "HERing", dependencies: ["HEARCrypto"], swiftSettings: optimized),
        .testTarget(name: "HERingTests", dependencies: ["HERing", "HEARCrypto"], swiftSettings: optimized),
        // Layer 2: the CKKS scheme. Imports HERing and HEARCrypto (digests and fingerprints).
        .target(name: "CKKS", dependencies: ["HERing", "HEARCrypto"], swiftSettings: optimized),
        .testTarget(name: "CKKSTests", dependencies: ["CKKS", "HEARCrypto"], swiftSettings: optimized),
        // Layer 3: packed tensor layouts and the homomorphic CNN operations, compiled to slot
        // programs that run on the CKKS evaluator or on the clear-slot simulator.
        .target(name: "HETensor", dependencies: ["CKKS", "HERing"], swiftSettings: optimized),
        .testTarget(name: "HETensorTests", dependencies: ["HETensor", "HERing"], swiftSettings: optimized),
        // Layer 4: the networks and the application (skeleton data, preprocessing, models,
        // reference and folded inference, metrics). Imports the layers below.
        .target(name: "HEAR", dependencies: ["HETensor", "CKKS", "HERing", "HEARCrypto"],
                resources: [.copy("Resources/paper"), .copy("Resources/synthetic-cnn2d-64.hearmodel"), .copy("Resources/recordings")], swiftSettings: optimized),
        // The tests also run the `hear` executable (exit codes, messages, files written).
        .testTarget(name: "HEARTests", dependencies: ["HEAR", "HETensor", "CKKS", "HERing", "HEARCommand", "HEARCrypto"], swiftSettings: optimized),
        // The `hear` command-line tool (product name `hear`; the module has another name so that
        // it cannot collide with `HEAR` on case-insensitive file systems).
        .target(name: "HEARTraining", dependencies: ["HEAR", "HERing"], swiftSettings: optimized),
        .testTarget(name: "HEARTrainingTests", dependencies: ["HEARTraining", "HEAR", "HERing"], swiftSettings: optimized),
        .executableTarget(name: "HEARCommand", dependencies: ["HEARTraining", "HEAR", "HETensor", "CKKS", "HERing", "HEARCrypto"], swiftSettings: optimized),
        .executableTarget(
            name: "HEARBenchmarks",
            dependencies: ["HEARCrypto", "HERing", "CKKS", "HETensor", "HEAR"],
            path: "Benchmarks/HEARBenchmarks",
            swiftSettings: optimized
        ),
    ]
)

// swift-tools-version:6.0
//
// A package that depends on HEAR in Swift by version, as an app would. It builds against a git
// repository of HEAR tagged 0.9.0 or later (HEAR_PACKAGE_URL, e.g. file:///tmp/hear-swift;
// `.ci/run` makes such a clone and builds this). Run:
//     HEAR_PACKAGE_URL=file:///path/to/hear-swift swift run -c release
// With the vector kernels (the whole build compiled for this machine's CPU):
//     HEAR_PACKAGE_URL=… swift run -c release -Xswiftc -target-cpu -Xswiftc native -Xswiftc -DHERING_VECTOR_NTT
import Foundation
import PackageDescription

let url = ProcessInfo.processInfo.environment["HEAR_PACKAGE_URL"] ?? "https://github.com/hear-swift/hear-swift.git"
// SwiftPM names a dependency by the last component of its URL.
let identity = String(url.split(separator: "/").last ?? "hear-swift").replacingOccurrences(of: ".git", with: "")

let package = Package(
    name: "HEARConsumer",
    dependencies: [.package(url: url, from: "0.9.0")],
    targets: [
        .executableTarget(name: "Consumer", dependencies: [
            .product(name: "CKKS", package: identity),
            .product(name: "HEAR", package: identity),
        ]),
    ]
)

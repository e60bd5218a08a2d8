#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser of untrusted bytes with libFuzzer and AddressSanitizer.
#
#   Tests/Fuzz/fuzz.sh build                  build .build/fuzz/hear-fuzz from the package's sources
#   Tests/Fuzz/fuzz.sh run <runs> [target…]   run each target (all by default) for <runs> inputs,
#                                             seeded with valid files; prints one line per target
#                                             and exits non-zero on any crash or sanitizer report
#
# The modules are compiled with swiftc directly (-sanitize=fuzzer,address -enable-testing), in
# dependency order, from Sources/; the harness is Tests/Fuzz/HEARFuzz.swift. Artifacts (a crashing
# input, if any) land in .build/fuzz/artifacts/<target>/; logs in .build/fuzz/logs/ (HEAR_FUZZ_OUT=<dir>
# puts the build, corpus and logs elsewhere, e.g. for a second run beside a long one).
set -euo pipefail
export SWIFT_BACKTRACE=enable=no   # the runtime's backtracer trips AddressSanitizer; libFuzzer prints the stack
cd "$(dirname "$0")/../.."
root=$(pwd)
out=${HEAR_FUZZ_OUT:-$root/.build/fuzz}   # HEAR_FUZZ_OUT: another build and corpus directory
targets_all=(parameters public-key evaluation-keys secret-key ciphertext party-file signed-file descriptor envelopes model clips csv stream)

build() {
    mkdir -p "$out/modules"
    local flags=(-O -parse-as-library -swift-version 6 -package-name hear -enable-testing -sanitize=fuzzer,address -I "$out/modules" -module-cache-path "$out/cache")
    local objects=()
    # HEARCrypto (SHA-256, Ed25519, ChaCha20) is compiled without instrumentation: it parses
    # nothing but fixed-size keys and signatures, is held to the standards' vectors, and runs
    # under AddressSanitizer in `swift test --sanitize=address`; instrumented, its hashing would
    # make every run of the large-file targets ten times slower. Every parser is instrumented.
    echo "compiling HEARCrypto (not instrumented)"
    swiftc -O -parse-as-library -swift-version 6 -package-name hear -enable-testing -module-cache-path "$out/cache" -module-name HEARCrypto -wmo \
        -emit-module -emit-module-path "$out/modules/HEARCrypto.swiftmodule" -c Sources/HEARCrypto/*.swift -o "$out/modules/HEARCrypto.o"
    for module in HERing CKKS HETensor HEAR; do
        local sources=(Sources/$module/*.swift)
        if [ "$module" = HEAR ]; then
            # SwiftPM generates Bundle.module for the resources; the harness reads none of them
            printf 'import Foundation\nextension Foundation.Bundle { static let module = Bundle.main }\n' > "$out/HEARResources.swift"
            sources+=("$out/HEARResources.swift")
        fi
        echo "compiling $module"
        swiftc "${flags[@]}" -module-name $module -wmo -emit-module -emit-module-path "$out/modules/$module.swiftmodule" \
            -c "${sources[@]}" -o "$out/modules/$module.o"
        objects+=("$out/modules/$module.o")
    done
    link
}

link() {
    local flags=(-O -parse-as-library -swift-version 6 -package-name hear -enable-testing -sanitize=fuzzer,address -I "$out/modules" -module-cache-path "$out/cache")
    echo "linking hear-fuzz"
    swiftc "${flags[@]}" -module-name HEARFuzz Tests/Fuzz/HEARFuzz.swift "$out"/modules/*.o -o "$out/hear-fuzz" 2>&1 | { grep -v "warning: Cannot export local symbol" || true; }
}

run() {
    local runs=$1
    shift
    local targets=("$@")
    [ ${#targets[@]} -gt 0 ] || targets=("${targets_all[@]}")
    [ -x "$out/hear-fuzz" ] || build
    rm -rf "$out/seeds"
    HEAR_FUZZ_WRITE_SEEDS="$out/seeds" "$out/hear-fuzz" > "$out/seeds.log" 2>&1 || { echo "writing the seeds failed: $out/seeds.log"; return 1; }
    mkdir -p "$out/logs"
    local failed=0
    for target in "${targets[@]}"; do
        mkdir -p "$out/corpus/$target" "$out/artifacts/$target"
        local log="$out/logs/$target.log" start=$SECONDS
        if HEAR_FUZZ_TARGET=$target "$out/hear-fuzz" -runs="$runs" -max_len=2000000 -rss_limit_mb=4096 -timeout=60 -print_final_stats=1 \
            -artifact_prefix="$out/artifacts/$target/" "$out/corpus/$target" "$out/seeds/$target" > "$log" 2>&1; then
            local status=ok
        else
            local status=FAILED failed=1
        fi
        local executed coverage features
        executed=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        coverage=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
        features=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
        printf '%-16s %-6s %10s runs  %6s s  coverage %6s edges  %7s features  corpus %5s\n' "$target" "$status" "${executed:-?}" \
            $((SECONDS - start)) "${coverage:-?}" "${features:-?}" "$(ls "$out/corpus/$target" | wc -l)"
        if [ $status = FAILED ]; then grep -E "ERROR|SUMMARY|Fatal|panic" "$log" | head -5; fi
    done
    return $failed
}

case "${1:-}" in
    build) build ;;
    link) link ;;
    run) shift; run "$@" ;;
    *) echo "usage: $0 build | run <runs> [target…]" >&2; exit 64 ;;
esac

#!/usr/bin/env bash
# The three parties through the `hear` CLI on one test sample of cnn2d-64, then the error cases:
# each must exit non-zero with its own one-line message and leave no output file behind.
# usage: .ci/parties.sh <hear binary> <data directory with test_inputs.csv and models/>
set -euo pipefail
hear=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
data=$(cd "$2" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

fail() { echo "FAIL: $*"; exit 1; }

echo "-- keygen → encrypt → infer → decrypt (cnn2d-64, test sample 101)"
row=101
"$hear" keygen --model cnn2d-64 --data "$data" --out keys
"$hear" encrypt --public-key keys/public-key.hear --input "$data/test_inputs.csv" --row $row --out input.hear
"$hear" infer --model cnn2d-64 --data "$data" --eval-keys keys/evaluation-keys.hear --in input.hear --out result.hear --threads 2
"$hear" decrypt --secret-key keys/secret-key.hear --in result.hear | tee decision.txt
decision=$(sed -n 's/^decision  \([a-z]*\).*/\1/p' decision.txt)
plain=$("$hear" classify --model cnn2d-64 --data "$data" --keypoints "$data/test_inputs.csv" --row $row | sed -n 's/^class     \([a-z]*\).*/\1/p')
[ -n "$decision" ] && [ "$decision" = "$plain" ] || fail "encrypted decision '$decision' differs from the plaintext prediction '$plain'"
echo "decision '$decision' = plaintext prediction '$plain'"
[ "$(stat -c %a keys/secret-key.hear)" = 600 ] || fail "the secret key file is not mode 0600"
echo "sizes: $(for f in keys/public-key.hear keys/evaluation-keys.hear keys/secret-key.hear input.hear result.hear; do printf '%s %s B; ' "$f" "$(stat -c %s "$f")"; done)"

echo "-- files for the error cases"
"$hear" keygen --model cnn2d-64 --data "$data" --preset seal-style --out keys-seal > /dev/null
"$hear" keygen --model cnn2d-64 --data "$data" --method hear --out keys-hear > /dev/null
"$hear" encrypt --public-key keys-seal/public-key.hear --input "$data/test_inputs.csv" --row $row --out input-seal.hear > /dev/null
head -c 100000 input.hear > truncated.hear
cp input.hear corrupted.hear
printf '\x5a' | dd of=corrupted.hear bs=1 seek=700000 conv=notrunc status=none
printf 'x0,y0,score0\n1,2,3\n' > malformed.csv
echo "previous content" > kept.hear
cp -r keys keys-before

# expect_failure <exit code> <message fragment> <output path that must not appear> <hear arguments…>
expect_failure() {
    local code=$1 fragment=$2 out=$3
    shift 3
    set +e
    local message
    message=$("$hear" "$@" 2>&1 >/dev/null)
    local status=$?
    set -e
    [ "$status" -eq "$code" ] || fail "hear $* exited $status, expected $code: $message"
    [ "$(printf '%s\n' "$message" | wc -l)" -eq 1 ] || fail "hear $*: the reason is not one line: $message"
    grep -qF -- "$fragment" <<< "$message" || fail "hear $*: '$message' does not say '$fragment'"
    [ ! -e "$out" ] || fail "hear $*: left $out behind"
    ! ls -A | grep -q partial || fail "hear $*: left a partial file"
    echo "ok (exit $status): $message"
}
infer=(infer --model cnn2d-64 --data "$data" --threads 2)

expect_failure 66 "missing.hear: no such file" out1.hear "${infer[@]}" --eval-keys keys/evaluation-keys.hear --in missing.hear --out out1.hear
expect_failure 65 "the file is truncated" out2.hear "${infer[@]}" --eval-keys keys/evaluation-keys.hear --in truncated.hear --out out2.hear
expect_failure 65 "the checksum does not match" out3.hear "${infer[@]}" --eval-keys keys/evaluation-keys.hear --in corrupted.hear --out out3.hear
expect_failure 65 "belongs to parameter set 'seal-style'" out4.hear "${infer[@]}" --eval-keys keys/evaluation-keys.hear --in input-seal.hear --out out4.hear
expect_failure 65 "belongs to parameter set 'default'" /nonexistent decrypt --secret-key keys-seal/secret-key.hear --in result.hear
expect_failure 65 "was made for model plan" out5.hear "${infer[@]}" --eval-keys keys-hear/evaluation-keys.hear --in input.hear --out out5.hear
expect_failure 65 "the evaluation keys were generated for model 'cnn2d-64'" out6.hear infer --model synthetic --eval-keys keys/evaluation-keys.hear --in input.hear --out out6.hear
expect_failure 65 "holds a SECRET KEY" out7.hear "${infer[@]}" --eval-keys keys/secret-key.hear --in input.hear --out out7.hear
expect_failure 65 "malformed.csv, line 2: expected 45 numbers" out8.hear encrypt --public-key keys/public-key.hear --input malformed.csv --out out8.hear
expect_failure 65 "holds an input ciphertext, not a result ciphertext" /nonexistent decrypt --secret-key keys/secret-key.hear --in input.hear
expect_failure 73 "the directory is not empty" /nonexistent keygen --model cnn2d-64 --data "$data" --out keys
# a failed command leaves an existing output as it was, and keygen never touches existing keys
expect_failure 65 "the checksum does not match" /nonexistent "${infer[@]}" --eval-keys keys/evaluation-keys.hear --in corrupted.hear --out kept.hear
[ "$(cat kept.hear)" = "previous content" ] || fail "a failed infer changed an existing output file"
diff -r keys keys-before > /dev/null || fail "a refused keygen changed the existing keys"
echo "-- the three parties and their error cases passed"

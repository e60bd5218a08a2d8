#!/usr/bin/env bash
# The three parties through the `hear` CLI with signed files, on one test sample of cnn2d-64,
# then the refusals: each must exit non-zero with its own one-line message and leave no output
# file behind (and change nothing already written).
# usage: .ci/parties.sh <hear binary> <data directory with test_inputs.csv and models/>
set -euo pipefail
hear=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
data=$(cd "$2" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

fail() { echo "FAIL: $*"; exit 1; }

echo "-- keygen, enroll, certify → encrypt → infer → decrypt (cnn2d-64, test sample 101)"
row=101
"$hear" keygen --model cnn2d-64 --data "$data" --out keys | tee keygen.txt
station=$(sed -n 's/^station   \([0-9a-f]*\) .*/\1/p' keygen.txt)
[ ${#station} -eq 32 ] || fail "keygen printed no station fingerprint"
"$hear" enroll --role camera --name kitchen --out camera
"$hear" enroll --role cloud --name cloud-1 --out cloud
"$hear" certify --keys keys --device camera/identity.pub --out camera/certificate.hear
"$hear" certify --keys keys --device cloud/identity.pub --out cloud/certificate.hear
"$hear" encrypt --device camera --trust "$station" --public-key keys/public-key.hear --input "$data/test_inputs.csv" --row $row --out input.hear
"$hear" infer --device cloud --trust "$station" --model cnn2d-64 --data "$data" --eval-keys keys/evaluation-keys.hear --in input.hear --out result.hear --threads 2
"$hear" decrypt --secret-key keys/secret-key.hear --in result.hear | tee decision.txt
decision=$(sed -n 's/^decision  \([a-z]*\).*/\1/p' decision.txt)
plain=$("$hear" classify --model cnn2d-64 --data "$data" --keypoints "$data/test_inputs.csv" --row $row | sed -n 's/^class     \([a-z]*\).*/\1/p')
[ -n "$decision" ] && [ "$decision" = "$plain" ] || fail "encrypted decision '$decision' differs from the plaintext prediction '$plain'"
echo "decision '$decision' = plaintext prediction '$plain'"
for f in keys/secret-key.hear keys/station.key camera/identity.key cloud/identity.key; do
    [ "$(stat -c %a $f)" = 600 ] || fail "$f is not mode 0600"
done
[ "$(cat camera/station.pin)" = "$(sed -n 's/.*"publicKey" : "\([0-9a-f]*\)".*/\1/p' keys/station.pub)" ] || fail "the camera did not pin the station"
echo "sizes: $(for f in keys/public-key.hear keys/evaluation-keys.hear keys/secret-key.hear input.hear result.hear; do printf '%s %s B; ' "$f" "$(stat -c %s "$f")"; done)"

echo "-- files for the refusals"
# another station with its own camera; a second key set and a key set of another model, both of the same station
"$hear" keygen --model cnn2d-64 --data "$data" --out keys-b > /dev/null
"$hear" keygen --model cnn2d-64 --data "$data" --identity keys/station.key --out keys-2 > /dev/null
"$hear" keygen --model synthetic --identity keys/station.key --out keys-syn > /dev/null
"$hear" enroll --role camera --name intruder --out camera-b > /dev/null
"$hear" certify --keys keys-b --device camera-b/identity.pub --out camera-b/certificate.hear > /dev/null
"$hear" encrypt --device camera-b --public-key keys-b/public-key.hear --input "$data/test_inputs.csv" --row $row --out input-b.hear > /dev/null 2>&1
"$hear" enroll --role camera --name uncertified --out camera-u > /dev/null
"$hear" encrypt --device camera --public-key keys-2/public-key.hear --input "$data/test_inputs.csv" --row $row --out input-2.hear > /dev/null
"$hear" encrypt --device camera --public-key keys-syn/public-key.hear --input "$data/test_inputs.csv" --row $row --out input-syn.hear > /dev/null
"$hear" infer --device cloud --model synthetic --eval-keys keys-syn/evaluation-keys.hear --in input-syn.hear --out result-syn.hear --threads 2 > /dev/null
"$hear" encrypt --device camera --public-key keys/public-key.hear --input "$data/test_inputs.csv" --row $row --out input-3.hear > /dev/null
head -c 100000 input-3.hear > truncated.hear
cp input-3.hear corrupted.hear
printf '\x5a' | dd of=corrupted.hear bs=1 seek=700000 conv=notrunc status=none
cp input-3.hear header-flipped.hear
printf '\x01' | dd of=header-flipped.hear bs=1 seek=30 conv=notrunc status=none
cp result.hear result-flipped.hear
printf '\x5a' | dd of=result-flipped.hear bs=1 seek=150000 conv=notrunc status=none
cp keys/public-key.hear pk-flipped.hear
printf '\x5a' | dd of=pk-flipped.hear bs=1 seek=500000 conv=notrunc status=none
cp input-3.hear oversized.hear
truncate -s 60M oversized.hear
printf 'x0,y0,score0\n1,2,3\n' > malformed.csv
echo "previous content" > kept.hear
cp -r keys keys-before
cp -r camera camera-before

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
infer=(infer --device cloud --model cnn2d-64 --data "$data" --threads 2)
input=(--input "$data/test_inputs.csv" --row $row)

# authentication
expect_failure 65 "but this camera trusts station $station" out1.hear encrypt --device camera --public-key keys-b/public-key.hear "${input[@]}" --out out1.hear
expect_failure 65 "not by the station 0000" out1.hear encrypt --device camera --trust 00000000000000000000000000000000 --public-key keys/public-key.hear "${input[@]}" --out out1.hear
expect_failure 65 "has no certificate.hear" out1.hear encrypt --device camera-u --public-key keys/public-key.hear "${input[@]}" --out out1.hear
expect_failure 65 "an unknown camera" out2.hear "${infer[@]}" --eval-keys keys/evaluation-keys.hear --in input-b.hear --out out2.hear
expect_failure 65 "belongs to key set" out3.hear "${infer[@]}" --eval-keys keys/evaluation-keys.hear --in input-2.hear --out out3.hear
expect_failure 65 "which was already accepted: a replay" out4.hear "${infer[@]}" --eval-keys keys/evaluation-keys.hear --in input.hear --out out4.hear
expect_failure 65 "which was already accepted: a replay" /nonexistent decrypt --secret-key keys/secret-key.hear --in result.hear
expect_failure 65 "synthetic2000' (" /nonexistent decrypt --secret-key keys/secret-key.hear --in result-syn.hear
expect_failure 65 "is signed by station" out5.hear infer --device cloud --model cnn2d-64 --data "$data" --eval-keys keys-b/evaluation-keys.hear --in input-3.hear --out out5.hear
# damaged files
expect_failure 66 "missing.hear: no such file" out6.hear "${infer[@]}" --eval-keys keys/evaluation-keys.hear --in missing.hear --out out6.hear
expect_failure 65 "the file is truncated" out6.hear "${infer[@]}" --eval-keys keys/evaluation-keys.hear --in truncated.hear --out out6.hear
expect_failure 65 "the SHA-256 digest does not match" out6.hear "${infer[@]}" --eval-keys keys/evaluation-keys.hear --in corrupted.hear --out out6.hear
expect_failure 65 "the signature does not verify" out6.hear "${infer[@]}" --eval-keys keys/evaluation-keys.hear --in header-flipped.hear --out out6.hear
expect_failure 65 "more than this kind of file can have" out6.hear "${infer[@]}" --eval-keys keys/evaluation-keys.hear --in oversized.hear --out out6.hear
expect_failure 65 "the SHA-256 digest does not match" /nonexistent decrypt --secret-key keys/secret-key.hear --in result-flipped.hear
expect_failure 65 "the SHA-256 digest does not match" out7.hear encrypt --device camera --public-key pk-flipped.hear "${input[@]}" --out out7.hear
# what each party may hold and the plans
expect_failure 65 "holds a SECRET KEY" out8.hear "${infer[@]}" --eval-keys keys/secret-key.hear --in input-3.hear --out out8.hear
expect_failure 65 "the evaluation keys were generated for model 'cnn2d-64'" out8.hear infer --device cloud --model synthetic --eval-keys keys/evaluation-keys.hear --in input-3.hear --out out8.hear
expect_failure 65 "malformed.csv, line 2: expected 45 numbers" out9.hear encrypt --device camera --public-key keys/public-key.hear --input malformed.csv --out out9.hear
expect_failure 65 "holds an input ciphertext, not a result ciphertext" /nonexistent decrypt --secret-key keys/secret-key.hear --in input-3.hear
expect_failure 73 "the directory is not empty" /nonexistent keygen --model cnn2d-64 --data "$data" --out keys
expect_failure 73 "the directory is not empty" /nonexistent enroll --role camera --name again --out camera
# a failed command leaves an existing output as it was, and never touches existing keys
expect_failure 65 "the SHA-256 digest does not match" /nonexistent "${infer[@]}" --eval-keys keys/evaluation-keys.hear --in corrupted.hear --out kept.hear
[ "$(cat kept.hear)" = "previous content" ] || fail "a failed infer changed an existing output file"
diff -r keys keys-before > /dev/null || fail "a refused command changed the station's files"
diff -r camera camera-before > /dev/null || fail "a refused command changed the camera's files (pin, sequence)"
# the accepted input still decrypts after all the refusals: the state only holds what was accepted
"$hear" infer --device cloud --model cnn2d-64 --data "$data" --eval-keys keys/evaluation-keys.hear --in input-3.hear --out result-3.hear --threads 2 > /dev/null
"$hear" decrypt --secret-key keys/secret-key.hear --in result-3.hear --json | grep -q '"sequence":4' || fail "the fourth input of the camera did not decrypt as sequence 4"
echo "-- the three parties and their refusals passed"

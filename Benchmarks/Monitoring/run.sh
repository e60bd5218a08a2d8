#!/usr/bin/env bash
# Continuous monitoring, measured: camera → cloud workers → station as separate processes on a
# stream of the paper's real test clips, through one spool directory.
#
#   Benchmarks/Monitoring/run.sh <out-dir> [--clips all|i,j,…] [--workers N] [--threads T]
#                                [--fps F] [--stride S] [--alert k/n] [--cool-down s] [--realtime]
#
# Defaults: every test clip in order (608 clips, 19 456 frames: 1 215 windows of 32 frames every
# 16), 2 workers of 1 thread, 30 fps, alert 1/2 with a 10 s cool-down, the camera as fast as it can
# (--realtime plays the stream at its frame rate instead, for the detection delay). Writes into
# <out-dir>: the stream and its labels, each process's JSON lines (camera.jsonl, worker-<i>.jsonl,
# station.jsonl), rss.csv (resident memory of every process every 2 s), and prints the summary of
# Benchmarks/Monitoring/analyze.py (throughput, delay, missed and false alerts, memory).
# Needs a release build: swift build -c release --product hear.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:?usage: run.sh <out-dir> [options]}; shift
clips=all workers=2 threads=1 fps=30 stride=16 alert=1/2 cooldown=10 realtime=""
while [ $# -gt 0 ]; do
    case "$1" in
        --clips) clips=$2; shift 2 ;;
        --workers) workers=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --fps) fps=$2; shift 2 ;;
        --stride) stride=$2; shift 2 ;;
        --alert) alert=$2; shift 2 ;;
        --cool-down) cooldown=$2; shift 2 ;;
        --realtime) realtime=--realtime; shift ;;
        *) echo "unknown option $1"; exit 64 ;;
    esac
done
hear=$(pwd)/.build/release/hear
[ -x "$hear" ] || { echo "build first: swift build -c release --product hear"; exit 1; }
[ -e "$out" ] && { echo "$out exists: give a new directory"; exit 73; }
mkdir -p "$out"
out=$(cd "$out" && pwd)

echo "== keys, identities, stream ($(nproc) processors: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
"$hear" keygen --out "$out/keys" > "$out/keygen.txt"
for role in camera cloud; do
    "$hear" enroll --role $role --name "bench-$role" --out "$out/$role" > /dev/null
    "$hear" certify --keys "$out/keys" --device "$out/$role/identity.pub" --out "$out/$role/certificate.hear" > /dev/null
done
"$hear" make-stream --clips "$clips" --fps "$fps" --out "$out/stream.txt" --labels "$out/labels.jsonl"

spool=$out/spool
pids=()
echo "== $workers worker(s) of $threads thread(s)"
for i in $(seq 1 "$workers"); do
    "$hear" serve --device "$out/cloud" --eval-keys "$out/keys/evaluation-keys.hear" --spool "$spool" --threads "$threads" \
        --worker "worker-$i" > "$out/worker-$i.jsonl" 2> "$out/worker-$i.err" &
    pids+=($!)
done
windows=$(( ( $(grep -vc '^#' "$out/stream.txt") - 32 ) / stride + 1 ))
"$hear" watch --secret-key "$out/keys/secret-key.hear" --spool "$spool" --alert "$alert" --cool-down "$cooldown" \
    --windows "$windows" > "$out/station.jsonl" 2> "$out/station.err" &
station=$!
# the workers load the keys and encode the weights before the camera starts
for i in $(seq 1 "$workers"); do
    until grep -q '"ready"' "$out/worker-$i.jsonl" 2>/dev/null; do sleep 0.2; done
done
echo "== camera: $windows windows ($realtime)"
"$hear" monitor --device "$out/camera" --public-key "$out/keys/public-key.hear" --spool "$spool" --input "$out/stream.txt" \
    --stride "$stride" $realtime > "$out/camera.jsonl" 2> "$out/camera.err" &
camera=$!

# resident memory of every process, every 2 s
echo "time,process,rss_kb" > "$out/rss.csv"
sample() {
    local now; now=$(date +%s.%N)
    for entry in "camera:$camera" "station:$station" $(for i in "${!pids[@]}"; do echo "worker-$((i + 1)):${pids[$i]}"; done); do
        local name=${entry%%:*} pid=${entry##*:}
        local rss; rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
        [ -n "$rss" ] && echo "$now,$name,$rss" >> "$out/rss.csv"
    done
}
while kill -0 "$station" 2> /dev/null; do sample; sleep 2; done
wait "$station" || { echo "FAIL: the station stopped with an error"; cat "$out/station.err"; exit 1; }
wait "$camera" || true
for pid in "${pids[@]}"; do kill -TERM "$pid"; done
for pid in "${pids[@]}"; do wait "$pid" || true; done
python3 "$(dirname "$0")/analyze.py" "$out" --workers "$workers" --threads "$threads" --stride "$stride" --fps "$fps" --alert "$alert" --cool-down "$cooldown"

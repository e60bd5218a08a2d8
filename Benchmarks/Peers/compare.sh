#!/usr/bin/env bash
# Our CKKS operations against Microsoft SEAL 4.1 and OpenFHE 1.6 on this machine, in one run,
# at the exact prime sizes of one of our presets; then our encrypted inference in units of one
# SEAL rotation. One command from a fresh clone:
#
#   Benchmarks/Peers/compare.sh [--preset fast-hear] [--quick] [--models cnn2d-64,cnn1d-64,cnn2d-128]
#
# Makes a virtual environment with the pinned wheels of requirements.txt (Python 3.10: $PYTHON,
# else python3.10 on PATH), builds our release binaries, and prints the ratio tables.
# Takes about 10 minutes with the three networks (2 cores). Not part of the package or of CI.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
python=""
for candidate in ${PYTHON:-} python3.10 "$HOME"/.pyenv/versions/3.10*/bin/python /usr/bin/python3.10; do
    if "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; then
        python="$candidate"; break
    fi
done
[ -n "$python" ] || { echo "compare.sh: needs Python 3.10 for the openfhe wheel (cp310 only); set PYTHON=/path/to/python3.10" >&2; exit 2; }
venv="${PEERS_VENV:-$root/.build/peers-venv}"
if [ ! -x "$venv/bin/python" ] || ! cmp -s Benchmarks/Peers/requirements.txt "$venv/requirements.txt"; then
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r Benchmarks/Peers/requirements.txt
    cp Benchmarks/Peers/requirements.txt "$venv/requirements.txt"
fi
swift build -c release --product HEARBenchmarks >&2
swift build -c release --product hear >&2
bin="$(swift build -c release --show-bin-path)"
# one thread for everyone: OpenFHE would otherwise use OpenMP on every core
export OMP_NUM_THREADS=1
exec "$venv/bin/python" Benchmarks/Peers/peers.py --binary "$bin/HEARBenchmarks" --hear "$bin/hear" "$@"

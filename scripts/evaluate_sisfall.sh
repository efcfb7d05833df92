#!/usr/bin/env bash
# The detection gate: export the SisFall development subjects from ../shared (as users have the files),
# run `retrowalk evaluate` on them and fail below the floors in bench/detection_floors.json.
# The recordings are others' work and not ours to redistribute: they are read from ../shared and
# exported to a scratch folder outside the project, never copied in. Without ../shared this steps aside.
set -euo pipefail
cd "$(dirname "$0")/.."
shared="${RETROWALK_SHARED:-../shared}"
if [ ! -f "$shared/data/export_sisfall.py" ]; then
    echo "evaluate: $shared/data is not here, so the SisFall gate is skipped (recordings are not part of the project)"
    exit 0
fi
dest="${RETROWALK_SISFALL_DIR:-${TMPDIR:-/tmp}/retrowalk-sisfall}"
.venv/bin/python "$shared/data/export_sisfall.py" "$dest"
mkdir -p out
.venv/bin/retrowalk evaluate "$dest" --format sisfall --json --output out/evaluate_sisfall.json
.venv/bin/python scripts/check_floors.py out/evaluate_sisfall.json bench/detection_floors.json
# a stranger's device: never calibrated and worn turned at random (the pipeline learns the mounting)
.venv/bin/retrowalk evaluate "$dest" --format sisfall --no-mounting --rotate random --json \
    --output out/evaluate_sisfall_uncalibrated.json
.venv/bin/python scripts/check_floors.py out/evaluate_sisfall_uncalibrated.json bench/detection_floors_uncalibrated.json
# backward walking, as the walks and jogs played backwards in time (docs/evaluation.md)
.venv/bin/retrowalk evaluate "$dest" --format sisfall --activity D01 D02 D03 D04 --time-reverse --json \
    --output out/evaluate_sisfall_reversed_walks.json
.venv/bin/python scripts/check_floors.py out/evaluate_sisfall_reversed_walks.json bench/detection_floors_reversed.json

#!/usr/bin/env bash
# Make the Home Assistant Core venv the discovery tests check against and run (tests/ha.py).
#
#   bash scripts/make_ha_venv.sh            # into $RETROWALK_HA_VENV, default ~/.cache/retrowalk/ha-venv
#
# Optional: without it those tests skip and say why. Home Assistant 2025.4 needs Python 3.13 (found on PATH,
# in pyenv, or given as $HA_PYTHON); it is large (several hundred MB, minutes to install), so it lives in a
# cache outside the repository and is made once. Besides Home Assistant itself it gets what its frontend and
# MQTT integrations require (the versions its own manifests name), so the live test can start it without
# installing anything at run time. Re-running with everything in place does nothing.
set -euo pipefail
HA_SPEC='homeassistant==2025.4.*'
DIR="${RETROWALK_HA_VENV:-$HOME/.cache/retrowalk/ha-venv}"

ready() { "$DIR/bin/python" -c 'import homeassistant.components.mqtt.event, hass_frontend, paho.mqtt' 2>/dev/null; }

if [ -x "$DIR/bin/python" ] && ready; then
    echo "Home Assistant venv ready: $DIR ($("$DIR/bin/python" -c 'from homeassistant.const import __version__; print(__version__)'))"
    exit 0
fi
if ! { [ -x "$DIR/bin/python" ] && "$DIR/bin/python" -c 'import homeassistant.components.mqtt.event' 2>/dev/null; }; then
    PY="${HA_PYTHON:-}"
    if [ -z "$PY" ]; then
        for candidate in python3.13 "$HOME/.pyenv/versions/3.13.0/bin/python3.13" /root/.pyenv/versions/3.13.0/bin/python3.13; do
            if command -v "$candidate" >/dev/null 2>&1; then PY="$(command -v "$candidate")"; break; fi
        done
    fi
    if [ -z "$PY" ]; then
        echo "no Python 3.13 found (Home Assistant 2025.4 needs it); set HA_PYTHON=/path/to/python3.13" >&2
        exit 1
    fi
    echo "making the Home Assistant venv in $DIR with $PY (several minutes the first time)"
    mkdir -p "$(dirname "$DIR")"
    "$PY" -m venv --clear "$DIR"   # a half-made venv from an interrupted run is started afresh
    "$DIR/bin/python" -m pip install -q --disable-pip-version-check "$HA_SPEC"
fi
# what the frontend and MQTT integrations require, exactly as their manifests pin it
mapfile -t EXTRA < <("$DIR/bin/python" - <<'PY'
import json, pathlib
import homeassistant.components as components
for name in ("frontend", "mqtt"):
    manifest = pathlib.Path(components.__file__).parent / name / "manifest.json"
    print("\n".join(json.loads(manifest.read_text())["requirements"]))
PY
)
"$DIR/bin/python" -m pip install -q --disable-pip-version-check "${EXTRA[@]}"
ready
echo "Home Assistant venv ready: $DIR"

#!/usr/bin/env bash
# Rate the systemd unit's hardening offline and fail when its exposure is above the limit (default 2.0),
# or when systemd ignores a line of it (a misspelt hardening key protects nothing).
#
#   scripts/check_unit_security.sh [--max 2.0] [UNIT_FILE]      (default: systemd/retrowalk.service)
#
# Needs systemd-analyze from systemd >= 250 (for --offline). When it is missing and we are root on Debian it
# is installed from Debian's packages; otherwise the check is skipped with a message and exit status 0.
set -euo pipefail

max=2.0
unit=""
while [ $# -gt 0 ]; do
    case "$1" in
        --max) max="${2:?--max needs a number}"; shift 2 ;;
        -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
        -*) echo "check_unit_security: unknown option $1" >&2; exit 2 ;;
        *) unit="$1"; shift ;;
    esac
done
if [ -z "$unit" ]; then
    unit="$(cd "$(dirname "$0")/.." && pwd)/systemd/retrowalk.service"
fi
if [ ! -f "$unit" ]; then
    echo "check_unit_security: no such unit file: $unit" >&2
    exit 2
fi

skip() {
    echo "check_unit_security: SKIPPED: $*" >&2
    exit 0
}

if ! command -v systemd-analyze >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "check_unit_security: installing systemd-analyze (Debian package systemd)" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd >/dev/null 2>&1 ||
            skip "could not install systemd (apt-get install -y systemd failed)"
    else
        skip "systemd-analyze is missing; install it with: sudo apt-get install -y systemd"
    fi
fi

version="$(systemd-analyze --version | awk 'NR == 1 { print $2 }')"
case "$version" in
    ''|*[!0-9]*) skip "cannot tell the systemd version ('$version')" ;;
esac
if [ "$version" -lt 250 ]; then
    skip "systemd $version has no 'security --offline' (needs 250 or newer, e.g. Debian bookworm)"
fi

err="$(mktemp)"
trap 'rm -f "$err"' EXIT
# Without --threshold the exit status is 0 for any rating; the figure is read from the last line.
if ! out="$(systemd-analyze security --offline=true --no-pager "$unit" 2>"$err")"; then
    cat "$err" >&2
    echo "check_unit_security: systemd-analyze failed on $unit" >&2
    exit 1
fi
if grep -E "Unknown|Failed to parse|Invalid|ignoring" "$err" >&2; then
    echo "check_unit_security: FAIL: systemd ignores the lines above in $unit; fix them" >&2
    exit 1
fi

exposure="$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9][0-9.]*\).*/\1/p' | tail -n 1)"
if [ -z "$exposure" ]; then
    printf '%s\n' "$out" >&2
    echo "check_unit_security: could not find the exposure level in systemd-analyze's output" >&2
    exit 1
fi

if awk -v e="$exposure" -v m="$max" 'BEGIN { exit !(e + 0 <= m + 0) }'; then
    echo "check_unit_security: OK: $(basename "$unit") exposure $exposure (limit $max, systemd $version)"
else
    printf '%s\n' "$out" | grep -E '^✗' >&2 || true
    echo "check_unit_security: FAIL: $(basename "$unit") exposure $exposure is above $max; tighten the lines marked ✗ above" >&2
    exit 1
fi

#!/usr/bin/env bash
# Install retrowalk as a service on Raspberry Pi OS (Bookworm or Bullseye), from this checkout.
#
#   sudo scripts/install.sh              do it
#   scripts/install.sh --dry-run         print every step, change nothing (works anywhere, root or not)
#
# Steps: enable I2C at 400 kHz; apt prerequisites (python3-venv, i2c-tools, the GPIO library gpiozero uses);
# the system user "retrowalk" in the i2c and gpio groups; a venv in /opt/retrowalk with this package;
# /etc/retrowalk/retrowalk.toml from the example (never overwritten); the systemd unit, enabled and started.
# Running it again is safe: each step checks before it acts, and an upgrade restarts the service.
#
# RETROWALK_ROOT=/some/dir puts every file the script writes under that directory and skips the steps that
# act on the running system (apt, users, venv, systemctl): for staging an image, and for tests.
set -euo pipefail

DRY_RUN=0
while [ $# -gt 0 ]; do
    case "$1" in
        -n|--dry-run) DRY_RUN=1 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done

SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT="${RETROWALK_ROOT:-}"
ROOT="${ROOT%/}"
APP_DIR=/opt/retrowalk
VENV="$APP_DIR/venv"
CONF_DIR=/etc/retrowalk
CONF="$CONF_DIR/retrowalk.toml"
UNIT=/etc/systemd/system/retrowalk.service
SERVICE_USER=retrowalk
I2C_BAUDRATE=400000
REBOOT_NEEDED=0

say() { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }

# show CMD...: the command as it would be typed (quoted where needed)
show() {
    local arg
    printf '    +'
    for arg in "$@"; do
        case "$arg" in
            *[!A-Za-z0-9_./=:,@%+-]*|'') printf " '%s'" "$arg" ;;
            *) printf ' %s' "$arg" ;;
        esac
    done
}

# run CMD...: a step that changes something. Printed always; executed unless --dry-run.
run() {
    show "$@"
    printf '\n'
    if [ "$DRY_RUN" = 0 ]; then
        "$@"
    fi
}

# append FILE LINE...: add lines (after an [all] filter) to a Raspberry Pi boot config.
append() {
    local file="$1"
    shift
    printf '    + append to %s: [all] %s\n' "$file" "$*"
    if [ "$DRY_RUN" = 0 ]; then
        # [all] first: lines below a model filter such as [cm4] would apply to that model only
        printf '\n[all]\n' >> "$file"
        printf '%s\n' "$@" >> "$file"
    fi
}

# system CMD...: a step on the running system (packages, users, services): skipped under RETROWALK_ROOT.
system() {
    if [ -n "$ROOT" ]; then
        show "$@"
        printf '   (skipped: RETROWALK_ROOT is set)\n'
    else
        run "$@"
    fi
}

if [ "$DRY_RUN" = 0 ] && [ -z "$ROOT" ] && [ "$(id -u)" != 0 ]; then
    echo "install.sh: run it as root (sudo $0), or see what it would do with --dry-run" >&2
    exit 1
fi
if [ "$DRY_RUN" = 1 ]; then
    say "dry run: printing every step, changing nothing"
fi
if [ -n "$ROOT" ]; then
    say "RETROWALK_ROOT=$ROOT: files go under it; apt, users, venv and systemctl steps are skipped"
fi

# ---- which system is this -------------------------------------------------------------------------------
codename=unknown
if [ -r "$ROOT/etc/os-release" ]; then
    # shellcheck disable=SC1091  # the target system's file, read at install time
    codename="$(. "$ROOT/etc/os-release" && printf '%s' "${VERSION_CODENAME:-unknown}")"
fi
case "$codename" in
    bookworm|bullseye|trixie) say "system: Raspberry Pi OS / Debian $codename" ;;
    *) say "system: '$codename' is not Bookworm or Bullseye; continuing, but only those two are tested" ;;
esac

# ---- 1. I2C on, at 400 kHz --------------------------------------------------------------------------------
say "1. enable I2C at $I2C_BAUDRATE Hz"
boot_config=""
for candidate in /boot/firmware/config.txt /boot/config.txt; do  # Bookworm moved it to /boot/firmware
    if [ -f "$ROOT$candidate" ]; then
        boot_config="$candidate"
        break
    fi
done
if [ -z "$boot_config" ]; then
    note "no /boot/firmware/config.txt or /boot/config.txt here (not a Raspberry Pi?): I2C step skipped;"
    note "on the Pi it runs 'raspi-config nonint do_i2c 0' and sets dtparam=i2c_arm_baudrate=$I2C_BAUDRATE"
else
    if [ -z "$ROOT" ] && command -v raspi-config >/dev/null 2>&1; then
        # raspi-config also loads i2c-dev now and lists it in /etc/modules
        run raspi-config nonint do_i2c 0
    elif grep -q '^dtparam=i2c_arm=on' "$ROOT$boot_config"; then
        note "dtparam=i2c_arm=on is already in $boot_config"
    else
        append "$ROOT$boot_config" dtparam=i2c_arm=on
        REBOOT_NEEDED=1
    fi
    if grep -q "^dtparam=i2c_arm_baudrate=$I2C_BAUDRATE\$" "$ROOT$boot_config"; then
        note "dtparam=i2c_arm_baudrate=$I2C_BAUDRATE is already in $boot_config"
    elif grep -q '^dtparam=i2c_arm_baudrate=' "$ROOT$boot_config"; then
        run sed -i "s/^dtparam=i2c_arm_baudrate=.*/dtparam=i2c_arm_baudrate=$I2C_BAUDRATE/" "$ROOT$boot_config"
        REBOOT_NEEDED=1
    else
        append "$ROOT$boot_config" "dtparam=i2c_arm_baudrate=$I2C_BAUDRATE"
        REBOOT_NEEDED=1
    fi
    if [ -f "$ROOT/etc/modules" ] && ! grep -q '^i2c-dev' "$ROOT/etc/modules"; then
        printf '    + append to %s: i2c-dev\n' "$ROOT/etc/modules"
        if [ "$DRY_RUN" = 0 ]; then
            echo i2c-dev >> "$ROOT/etc/modules"
        fi
    fi
fi

# ---- 2. packages ------------------------------------------------------------------------------------------
say "2. apt prerequisites"
# gpiozero 2 drives the pins through lgpio on Bookworm (python3-lgpio); Bullseye images without it fall
# back to RPi.GPIO. The venv sees these apt packages (--system-site-packages): they are built for the Pi.
gpio_package=python3-lgpio
if [ -z "$ROOT" ] && command -v apt-cache >/dev/null 2>&1 && ! apt-cache show python3-lgpio >/dev/null 2>&1; then
    gpio_package=python3-rpi.gpio
fi
system apt-get update
system env DEBIAN_FRONTEND=noninteractive apt-get install -y python3 python3-venv python3-pip i2c-tools "$gpio_package"

# ---- 3. the service user -----------------------------------------------------------------------------------
say "3. system user '$SERVICE_USER' in groups i2c and gpio"
for group in i2c gpio; do
    if [ -z "$ROOT" ] && getent group "$group" >/dev/null 2>&1; then
        note "group $group exists"
    else
        system groupadd --system -f "$group"
    fi
done
if [ -z "$ROOT" ] && id "$SERVICE_USER" >/dev/null 2>&1; then
    system usermod --append --groups i2c,gpio "$SERVICE_USER"
else
    system useradd --system --user-group --groups i2c,gpio --home-dir /var/lib/retrowalk --no-create-home \
        --shell /usr/sbin/nologin --comment "retrowalk monitor" "$SERVICE_USER"
fi

# ---- 4. the program ----------------------------------------------------------------------------------------
say "4. venv in $VENV with retrowalk from $SOURCE"
run install -d -m 0755 "$ROOT$APP_DIR"
if [ -x "$ROOT$VENV/bin/python" ]; then
    note "venv exists: upgrading the package in it"
else
    system python3 -m venv --system-site-packages "$VENV"
fi
system "$VENV/bin/python" -m pip install --quiet --upgrade pip
system "$VENV/bin/python" -m pip install --quiet --upgrade "$SOURCE"
if [ -f "$SOURCE/README.md" ]; then
    run install -m 0644 "$SOURCE/README.md" "$ROOT$APP_DIR/README.md"
fi

# ---- 5. the config -----------------------------------------------------------------------------------------
say "5. config $CONF (never overwritten)"
run install -d -m 0755 "$ROOT$CONF_DIR"
if [ -e "$ROOT$CONF" ]; then
    note "$CONF exists: kept as it is; the current example is $CONF_DIR/retrowalk.example.toml"
else
    run install -m 0644 "$SOURCE/retrowalk.example.toml" "$ROOT$CONF"
    note "edit [mqtt] host and device_id there, then: retrowalk config check $CONF"
fi
run install -m 0644 "$SOURCE/retrowalk.example.toml" "$ROOT$CONF_DIR/retrowalk.example.toml"
# a bad config would only show up as a service that refuses to start (exit 78): say so now
system "$VENV/bin/retrowalk" config check "$CONF"

# ---- 6. the service ----------------------------------------------------------------------------------------
say "6. systemd unit $UNIT, enabled and (re)started"
run install -d -m 0755 "$ROOT$(dirname "$UNIT")"
run install -m 0644 "$SOURCE/systemd/retrowalk.service" "$ROOT$UNIT"
system systemctl daemon-reload
system systemctl enable --now retrowalk.service
# enable --now leaves a running old version running: restart so an upgrade takes effect
system systemctl restart retrowalk.service

say "done"
note "status:  systemctl status retrowalk     log:  journalctl -u retrowalk -f"
note "the checklist (stop the service first, it holds the pins):  sudo systemctl stop retrowalk"
note "    cd /tmp && sudo -u $SERVICE_USER $VENV/bin/retrowalk selftest --config $CONF"
note "stand still with the sensor on:  cd /tmp && sudo -u $SERVICE_USER $VENV/bin/retrowalk calibrate --config $CONF"
note "then:  sudo systemctl start retrowalk"
if [ "$REBOOT_NEEDED" = 1 ]; then
    note "I2C settings changed: reboot for them to take effect (sudo reboot)"
fi

"""scripts/install.sh and scripts/check_unit_security.sh, run as a user would run them.

Every install run here sets RETROWALK_ROOT to a temporary directory shaped like a Pi's root, so even a broken
--dry-run could only write there, and the steps on the running system (apt, users, systemctl) are skipped.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
INSTALL = REPO / "scripts" / "install.sh"
CHECK_UNIT = REPO / "scripts" / "check_unit_security.sh"
UNIT = REPO / "systemd" / "retrowalk.service"

BOOT_CONFIG = "# stock\ndtparam=audio=on\n[cm4]\notg_mode=1\n"


def fake_pi_root(tmp_path: Path, codename: str = "bookworm") -> Path:
    root = tmp_path / "pi"
    boot = root / ("boot/firmware" if codename == "bookworm" else "boot")
    boot.mkdir(parents=True)
    (boot / "config.txt").write_text(BOOT_CONFIG)
    (root / "etc").mkdir()
    (root / "etc" / "os-release").write_text(f"ID=debian\nVERSION_CODENAME={codename}\n")
    (root / "etc" / "modules").write_text("# modules\n")
    return root


def install(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, RETROWALK_ROOT=str(root))
    return subprocess.run(["bash", str(INSTALL), *args], env=env, capture_output=True, text=True, timeout=60)


def snapshot(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else None) for p in root.rglob("*")}


def test_dry_run_lists_every_step_a_user_needs_when_run_on_bookworm(tmp_path):
    root = fake_pi_root(tmp_path)
    result = install(root, "--dry-run")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for step in ("dtparam=i2c_arm=on", "dtparam=i2c_arm_baudrate=400000", "boot/firmware/config.txt",
                 "apt-get install -y python3 python3-venv python3-pip i2c-tools python3-lgpio",
                 "useradd --system --user-group --groups i2c,gpio", "retrowalk",
                 "python3 -m venv --system-site-packages /opt/retrowalk/venv",
                 f"pip install --quiet --upgrade {REPO}",
                 "/etc/retrowalk/retrowalk.toml", "retrowalk config check /etc/retrowalk/retrowalk.toml",
                 "/etc/systemd/system/retrowalk.service", "systemctl daemon-reload",
                 "systemctl enable --now retrowalk.service"):
        assert step in out, f"the dry run does not mention {step!r}:\n{out}"


def test_dry_run_changes_nothing_when_every_step_would_write(tmp_path):
    root = fake_pi_root(tmp_path)
    before = snapshot(root)
    assert install(root, "--dry-run").returncode == 0
    assert snapshot(root) == before


def test_bullseye_boot_config_is_edited_when_only_boot_config_txt_exists(tmp_path):
    root = fake_pi_root(tmp_path, codename="bullseye")
    out = install(root, "--dry-run").stdout
    assert f"append to {root}/boot/config.txt: [all] dtparam=i2c_arm_baudrate=400000" in out


def test_staged_install_enables_i2c_at_400_khz_for_every_model_when_run(tmp_path):
    root = fake_pi_root(tmp_path)
    result = install(root)
    assert result.returncode == 0, result.stderr
    boot = (root / "boot/firmware/config.txt").read_text()
    assert boot.startswith(BOOT_CONFIG)
    added = boot[len(BOOT_CONFIG):].split()
    # the lines land under [all], not under the [cm4] filter the stock file ends with
    assert added.index("[all]") < added.index("dtparam=i2c_arm_baudrate=400000")
    assert "dtparam=i2c_arm=on" in added
    assert "i2c-dev" in (root / "etc/modules").read_text().split()


def test_staged_install_puts_the_config_and_the_unit_in_place_when_run(tmp_path):
    root = fake_pi_root(tmp_path)
    assert install(root).returncode == 0
    assert (root / "etc/retrowalk/retrowalk.toml").read_text() == (REPO / "retrowalk.example.toml").read_text()
    assert (root / "etc/systemd/system/retrowalk.service").read_text() == UNIT.read_text()


def test_second_install_keeps_the_users_config_and_adds_no_duplicate_lines_when_run_again(tmp_path):
    root = fake_pi_root(tmp_path)
    assert install(root).returncode == 0
    config = root / "etc/retrowalk/retrowalk.toml"
    config.write_text('[mqtt]\nhost = "broker.example"\n')
    boot_after_first = (root / "boot/firmware/config.txt").read_text()
    modules_after_first = (root / "etc/modules").read_text()
    result = install(root)
    assert result.returncode == 0, result.stderr
    assert config.read_text() == '[mqtt]\nhost = "broker.example"\n'
    assert "exists: kept as it is" in result.stdout
    assert (root / "boot/firmware/config.txt").read_text() == boot_after_first
    assert (root / "etc/modules").read_text() == modules_after_first


def test_baudrate_is_corrected_in_place_when_the_boot_config_has_another_one(tmp_path):
    root = fake_pi_root(tmp_path)
    boot = root / "boot/firmware/config.txt"
    boot.write_text("dtparam=i2c_arm=on\ndtparam=i2c_arm_baudrate=100000\n")
    assert install(root).returncode == 0
    assert boot.read_text() == "dtparam=i2c_arm=on\ndtparam=i2c_arm_baudrate=400000\n"


def test_install_refuses_an_unknown_option_when_given_one(tmp_path):
    result = install(fake_pi_root(tmp_path), "--dryrun")
    assert result.returncode == 2
    assert "unknown argument '--dryrun'" in result.stderr


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_shellcheck_finds_nothing_when_run_on_the_scripts():
    result = subprocess.run(["shellcheck", str(INSTALL), str(CHECK_UNIT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def check_unit(unit: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(CHECK_UNIT), str(unit)], capture_output=True, text=True, timeout=60)


def skip_without_systemd_analyze(result: subprocess.CompletedProcess) -> None:
    if "SKIPPED" in result.stderr:
        pytest.skip(result.stderr.strip())


def test_unit_exposure_is_at_most_2_when_rated_offline():
    result = check_unit(UNIT)
    skip_without_systemd_analyze(result)
    assert result.returncode == 0, result.stderr
    exposure = float(result.stdout.split("exposure ")[1].split()[0])
    assert exposure <= 2.0


def test_unit_check_fails_when_the_hardening_is_removed(tmp_path):
    weak = tmp_path / "retrowalk.service"
    kept = [line for line in UNIT.read_text().splitlines()
            if not line.startswith(("Protect", "Private", "Restrict", "SystemCall", "Capability"))]
    weak.write_text("\n".join(kept) + "\n")
    result = check_unit(weak)
    skip_without_systemd_analyze(result)
    assert result.returncode == 1
    assert "is above 2.0" in result.stderr


def test_unit_check_fails_when_a_hardening_key_is_misspelt(tmp_path):
    typo = tmp_path / "retrowalk.service"
    typo.write_text(UNIT.read_text().replace("LockPersonality=yes", "LockPersonalty=yes"))
    result = check_unit(typo)
    skip_without_systemd_analyze(result)
    assert result.returncode == 1
    assert "LockPersonalty" in result.stderr


def unit_settings(text: str) -> dict:
    settings: dict = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith(("#", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def test_unit_starts_the_program_config_and_user_the_installer_creates_when_installed(tmp_path):
    root = fake_pi_root(tmp_path)
    out = install(root).stdout
    unit = unit_settings((root / "etc/systemd/system/retrowalk.service").read_text())
    program, command, flag, config = unit["ExecStart"][0].split()
    assert (program, command, flag) == ("/opt/retrowalk/venv/bin/retrowalk", "run", "--config")
    assert "python3 -m venv --system-site-packages /opt/retrowalk/venv" in out
    assert (root / config.lstrip("/")).is_file()
    assert f"useradd --system --user-group --groups {unit['SupplementaryGroups'][0].replace(' ', ',')}" in out
    assert out.split("useradd ")[1].split("(skipped")[0].split()[-1] == unit["User"][0]


def test_unit_does_not_restart_when_the_daemon_exits_for_a_bad_config():
    from firmware_py.errors import EX_CONFIG

    unit = unit_settings(UNIT.read_text())
    assert unit["RestartPreventExitStatus"] == [str(EX_CONFIG)]
    assert unit["Restart"] == ["on-failure"]
    assert unit["Type"] == ["notify"] and unit["NotifyAccess"] == ["main"]

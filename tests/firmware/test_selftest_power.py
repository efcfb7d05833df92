"""``retrowalk selftest`` shows the battery gauge and the power flags, each with its fix."""
from __future__ import annotations

import argparse

from firmware_py.commands import selftest


def run_selftest(tmp_path, capsys, toml, emulated=True):
    config = tmp_path / "retrowalk.toml"
    config.write_text(toml + f'\n[paths]\nstate_dir = "{tmp_path / "state"}"\n')
    selftest.run(argparse.Namespace(config=str(config), emulated=emulated))
    return capsys.readouterr().out


def test_selftest_reads_the_emulated_gauge_and_names_its_charge(tmp_path, capsys):
    out = run_selftest(tmp_path, capsys, '[power]\ngauge = "ina219"\n[power.emulator]\nstart_percent = 64\n')
    assert "✓  battery gauge: INA219 at 0x43 (emulated): 3.9" in out and "64 %, discharging" in out


def test_selftest_says_charge_it_when_the_battery_is_low(tmp_path, capsys):
    out = run_selftest(tmp_path, capsys, '[power]\ngauge = "ina219"\n[power.emulator]\nstart_percent = 10\n')
    assert "✗  battery gauge" in out and "charge it before a walk" in out


def test_selftest_is_content_without_a_gauge(tmp_path, capsys):
    out = run_selftest(tmp_path, capsys, "")
    assert "✓  battery gauge: none configured" in out


def test_selftest_names_under_voltage_and_its_fix_from_the_firmware_flags(tmp_path, capsys):
    flags = tmp_path / "get_throttled"
    flags.write_text("50005\n")
    out = run_selftest(tmp_path, capsys, f'[power]\nthrottled_source = "{flags}"\n', emulated=False)
    assert "✗  power supply: no under-voltage or throttling: under-voltage now; throttled now" in out
    assert "fix: use a supply that gives 5.1 V at 2.5 A" in out
    flags.write_text("0\n")
    out = run_selftest(tmp_path, capsys, f'[power]\nthrottled_source = "{flags}"\n', emulated=False)
    assert "✓  power supply: no under-voltage or throttling: no under-voltage or throttling since boot" in out

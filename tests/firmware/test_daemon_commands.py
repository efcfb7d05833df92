"""The commands around the daemon, run through the real CLI on the emulated chip: what a user sees and keeps."""
from __future__ import annotations

import numpy as np
import pytest

from firmware_py.cli import main
from firmware_py.daemon.calibration_file import load_calibration


@pytest.fixture
def config_file(tmp_path, state_dir):
    def write(mqtt_port: int = 1) -> str:  # port 1: nothing listens there
        path = tmp_path / "retrowalk.toml"
        path.write_text(f'[paths]\nstate_dir = "{state_dir}"\n\n[mqtt]\nhost = "127.0.0.1"\nport = {mqtt_port}\n')
        return str(path)
    return write


def test_selftest_ticks_the_hardware_and_names_the_fix_when_the_broker_is_down(config_file, capsys):
    code = main(["selftest", "--emulated", "--config", config_file()])
    out = capsys.readouterr().out
    assert code == 1
    for check in ("I2C bus present", "device at the configured address", "WHO_AM_I says MPU-6050",
                  "chip self-test", "buzzer beep"):
        assert f"✓  {check}" in out
    assert "✗  MQTT broker reachable: 127.0.0.1:1 does not answer" in out
    assert "fix: start a broker" in out


@pytest.mark.broker
def test_selftest_passes_when_every_check_passes(config_file, capsys, mosquitto):
    code = main(["selftest", "--emulated", "--config", config_file(mosquitto.port)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "✗" not in out and "all checks passed" in out


def test_calibrate_saves_what_the_daemon_loads_when_the_wearer_stands_still(config_file, state_dir, capsys):
    assert main(["calibrate", "--emulated", "--config", config_file()]) == 0
    assert "saved to" in capsys.readouterr().out
    calibration = load_calibration(state_dir)
    assert calibration is not None
    # the emulated chip stands upright: its z axis is the body's up, and its gyro has no bias
    assert np.asarray(calibration.body_from_sensor)[2] == pytest.approx([0, 0, 1], abs=0.02)
    assert np.abs(calibration.gyro_bias_dps) == pytest.approx([0, 0, 0], abs=0.05)


def test_record_writes_a_file_replay_reads_when_recording_the_emulated_walk(config_file, tmp_path, capsys):
    from firmware_py.evaluation.datasets import load_csv

    out_csv = tmp_path / "walk.csv"
    assert main(["record", str(out_csv), "--seconds", "5", "--emulated", "--config", config_file()]) == 0
    recording = load_csv(out_csv)
    assert len(recording.t_s) == pytest.approx(1000, abs=15)  # 5 s at 200 Hz
    assert np.median(np.diff(recording.t_s)) == pytest.approx(0.005, rel=0.01)
    assert "retrowalk replay" in capsys.readouterr().out


def test_demo_says_it_is_synthetic_and_shows_the_stumble_and_the_fall_alarm_on_virtual_time(capsys):
    # 25 s of demo time on virtual time (no waiting, so a busy machine cannot make it lose samples):
    # the stumble (~11 s) and the fall (~19 s) are in it
    assert main(["demo", "--speed", "max", "--seconds", "25", "--no-broker"]) == 0
    out = capsys.readouterr().out
    assert "SYNTHETIC" in out and "EMULATED" in out
    assert "EVENT stumble" in out and "BUZZER ▮▮▮ stumble chirp" in out
    assert "EVENT FALL" in out and "BUZZER ▮▮▮ fall alarm" in out
    assert "stayed queued" in out  # and it says where the events went


def test_demo_refuses_a_speed_that_is_not_a_positive_number_or_max(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--speed", "0"])
    assert exit_info.value.code == 2
    assert "'0' is not a speed" in capsys.readouterr().err


def test_run_exits_78_naming_the_chip_when_a_different_chip_answers(tmp_path, state_dir, capsys):
    config = tmp_path / "mpu6500.toml"
    config.write_text(f'[paths]\nstate_dir = "{state_dir}"\n\n[mqtt]\nport = 1\n\n'
                      f'[daemon]\ndriver = "emulated"\n\n[daemon.emulator]\nwho_am_i = 0x70\n')
    assert main(["run", "--config", str(config)]) == 78  # a restart cannot fix it: systemd does not retry
    err = capsys.readouterr().err
    assert "0x70" in err and "0x68" in err


def test_config_check_exits_78_naming_the_key_when_the_state_dir_cannot_be_created(tmp_path, capsys):
    # `run` itself runs from memory then (a storage_fault, tests/firmware/test_daemon_storage.py); `check` says why
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    config = tmp_path / "bad-state.toml"
    config.write_text(f'[paths]\nstate_dir = "{blocker}/state"\n\n[daemon]\ndriver = "emulated"\n')
    assert main(["config", "check", str(config)]) == 78
    assert "[paths] state_dir" in capsys.readouterr().err


# ---- `config check` runs every check `run` runs; bad input is one line, exit 78 (issue 10) ------------------

def _bad_configs(tmp_path):
    password = tmp_path / "password"
    password.write_bytes(b"\xe6\xff\x00secret\n")
    deep = "[" * 100000 + "]" * 100000
    return {
        "model_file is not a model": ('[detection.balance]\nmodel_file = "/etc/passwd"\n', "model_file"),
        "password file not UTF-8": (f'[mqtt]\nusername = "walker"\npassword_file = "{password}"\n',
                                    "is not UTF-8 text"),
        "password file a directory": (f'[mqtt]\nusername = "walker"\npassword_file = "{tmp_path}"\n',
                                      "no such file"),
        "nested arrays": (f"[sensor]\nbus = {deep}\n", "nested too deeply"),
        "1e308 g": ("[detection.fall]\nimpact_g = 1e308\n", "within ±64"),
        "nan": ("[detection.fall]\nimpact_g = nan\n", "finite number"),
        "help_after_s = 1e9": ("[detection.stillness]\nhelp_after_s = 1e9\n", "help_after_s"),
    }


@pytest.mark.parametrize("case", ["model_file is not a model", "password file not UTF-8",
                                  "password file a directory", "nested arrays", "1e308 g", "nan",
                                  "help_after_s = 1e9"])
def test_config_check_and_run_refuse_the_same_bad_input_in_one_line_with_exit_78(tmp_path, capsys, case):
    text, words = _bad_configs(tmp_path)[case]
    config = tmp_path / "bad.toml"
    config.write_text(text + f'\n[paths]\nstate_dir = "{tmp_path / "state"}"\n')
    for argv in (["config", "check", str(config)], ["run", "--config", str(config)]):
        assert main(argv) == 78, argv
        err = capsys.readouterr().err
        assert words in err and len(err.strip().splitlines()) == 1, err

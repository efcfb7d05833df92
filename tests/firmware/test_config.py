"""The real config: its sections, the example file, the docs, and `retrowalk config` as a user runs it."""
from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path
from typing import Iterator, Set, Tuple

import pytest

from firmware_py.cli import main
from firmware_py.config import ENV_VAR, Config, load_config
from firmware_py.errors import EX_CONFIG, ConfigError

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "retrowalk.example.toml"
DOCS = REPO / "docs" / "config.md"


def every_key(obj, path: Tuple[str, ...] = ()) -> Iterator[Tuple[str, str]]:
    """("section.sub", key) for every key of every section and subtable."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            yield from every_key(value, path + (f.name,))
        else:
            yield ".".join(path), f.name


def keys_written_in(text: str) -> Set[Tuple[str, str]]:
    """(section, key) for every key line of a TOML file, commented-out keys (``#key =``) included."""
    found, section = set(), ""
    for line in text.splitlines():
        header = re.match(r"^\[([\w.]+)\]\s*$", line)
        if header:
            section = header.group(1)
            continue
        key = re.match(r"^#?(\w+) =", line)
        if key:
            found.add((section, key.group(1)))
    return found


def write(tmp_path: Path, text: str, name: str = "retrowalk.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value)


# ---- finding the file ------------------------------------------------------------------------------------

def test_defaults_are_used_when_no_file_is_named_and_none_is_installed(tmp_path):
    assert load_config(None, environ={}, etc_path=str(tmp_path / "absent.toml")) == Config()


def test_installed_file_is_used_when_no_file_is_named(tmp_path):
    etc = write(tmp_path, "[sensor]\nsample_rate_hz = 100\n")
    assert load_config(None, environ={}, etc_path=str(etc)).sensor.sample_rate_hz == 100


def test_environment_names_the_file_when_retrowalk_config_is_set(tmp_path):
    named = write(tmp_path, "[paths]\nstate_dir = \"/srv/rw\"\n", "named.toml")
    etc = write(tmp_path, "[paths]\nstate_dir = \"/etc-one\"\n")
    config = load_config(None, environ={ENV_VAR: str(named)}, etc_path=str(etc))
    assert config.paths.state_dir == "/srv/rw"


def test_missing_file_is_an_error_when_the_environment_names_it(tmp_path):
    with pytest.raises(ConfigError, match="absent.toml: no such file"):
        load_config(None, environ={ENV_VAR: str(tmp_path / "absent.toml")})


# ---- what a user sees when the file is wrong -------------------------------------------------------------

def test_error_names_file_section_and_the_key_meant_when_a_key_is_misspelt(tmp_path):
    path = write(tmp_path, "[sensor]\nacel_range_g = 8\n")
    assert error_of(path) == f"{path}: [sensor] acel_range_g is not a known key; did you mean accel_range_g?"


def test_error_names_file_section_key_value_and_what_is_allowed_when_a_value_is_rejected(tmp_path):
    path = write(tmp_path, "[sensor]\naccel_range_g = 3\n")
    message = error_of(path)
    assert message.startswith(f"{path}: [sensor] accel_range_g = 3 is not allowed; use ")
    assert "16" in message


def test_error_names_the_section_meant_when_a_section_is_misspelt(tmp_path):
    path = write(tmp_path, "[snesor]\nbus = 1\n")
    assert error_of(path) == f"{path}: [snesor] is not a known section; did you mean [sensor]?"


def test_error_names_the_type_wanted_when_a_number_is_quoted(tmp_path):
    path = write(tmp_path, "[mqtt]\nport = \"1883\"\n")
    assert error_of(path) == f'{path}: [mqtt] port = "1883" is not allowed; use a whole number'


@pytest.mark.parametrize("section, key, shown", [
    ("detection.calibration", "still_s", "still_s"),
    ("detection.gait", "step_accel_g", "step_accel_g"),
    ("detection.orientation", "gain_per_s", "gain_per_s"),
    ("detection.fall", "impact_g", "fall.impact_g"),
    ("detection.stillness", "recovered_s", "stillness.recovered_s"),
    ("detection.stumble", "min_rate_dps", "stumble.min_rate_dps"),
    ("detection.session", "min_walk_s", "session.min_walk_s"),
])
def test_error_says_positive_when_a_setting_that_must_be_above_zero_is_zero(tmp_path, section, key, shown):
    path = write(tmp_path, f"[{section}]\n{key} = 0.0\n")
    assert error_of(path) == f"{path}: [{section}] {shown} = 0.0 is not allowed; use a positive number"


def test_error_names_the_file_and_the_line_when_the_toml_is_broken(tmp_path):
    path = write(tmp_path, "[sensor]\nbus = 1\naddress = = 0x68\n")
    message = error_of(path)
    assert message.startswith(f"{path}: is not valid TOML: ")
    assert "line 3" in message


def test_error_names_the_subtable_when_a_pattern_has_a_wrong_shape(tmp_path):
    path = write(tmp_path, "[alerts.fall]\nsteps_s = [[1.0, 0.0, 2.0]]\n")
    assert f"{path}: [alerts.fall] steps_s = [[1.0, 0.0, 2.0]] is not allowed" in error_of(path)


def test_missing_password_file_is_rejected_when_the_config_names_one(tmp_path):
    path = write(tmp_path, "[mqtt]\nusername = \"walker\"\npassword_file = \"mqtt-password\"\n")
    message = error_of(path)
    assert message.startswith(f'{path}: [mqtt] password_file = "mqtt-password" is not allowed; no such file')


def test_missing_model_file_is_rejected_when_the_config_names_one(tmp_path):
    path = write(tmp_path, '[detection.balance]\nmodel_file = "my-model.json"\n')
    message = error_of(path)
    assert message.startswith(f'{path}: [detection.balance] model_file = "my-model.json" is not allowed; no such file')


def test_a_model_file_that_is_no_model_stops_the_daemon_with_a_config_error(tmp_path):
    from firmware_py.daemon.wiring import build_pipeline

    (tmp_path / "my-model.json").write_text('{"format": "onnx"}')
    config = load_config(write(tmp_path, '[detection.balance]\nmodel_file = "my-model.json"\n'))
    with pytest.raises(ConfigError, match=r"\[detection.balance\] model_file: .*my-model.json: format is 'onnx'"):
        build_pipeline(config)


def test_relative_password_file_is_found_next_to_the_config_when_the_daemon_runs_elsewhere(tmp_path,
                                                                                          monkeypatch):
    (tmp_path / "mqtt-password").write_text("correct horse\n")
    path = write(tmp_path, "[mqtt]\nusername = \"walker\"\npassword_file = \"mqtt-password\"\n")
    monkeypatch.chdir("/")  # the service runs in /run/retrowalk, not where the config is
    password_file = load_config(path).mqtt.password_file
    assert Path(password_file).read_text() == "correct horse\n"


# ---- the example file and the docs cannot drift from the settings ----------------------------------------

def test_example_file_gives_the_defaults_when_loaded():
    assert load_config(EXAMPLE) == Config()


def test_example_file_lists_every_key_when_read_against_the_settings():
    missing = set(every_key(Config())) - keys_written_in(EXAMPLE.read_text())
    assert missing == set(), f"regenerate with: retrowalk config example > retrowalk.example.toml ({missing})"


def test_example_file_has_no_stale_key_when_read_against_the_settings():
    extra = keys_written_in(EXAMPLE.read_text()) - set(every_key(Config()))
    assert extra == set()


def test_docs_describe_every_key_when_read_against_the_settings():
    text = DOCS.read_text()
    missing = [f"[{section}] {key}" for section, key in every_key(Config())
               if f"### `[{section}]`" not in text or f"| `{key}` |" not in text]
    assert missing == [], "regenerate the reference with: retrowalk config example --markdown"


def test_effective_config_reads_back_to_an_equal_config_when_shown(tmp_path):
    config = load_config(write(tmp_path, "[sensor]\nsample_rate_hz = 100\n[alerts]\ncancel_window_s = 45\n"))
    again = load_config(write(tmp_path, config.to_toml(redact=False), "again.toml"))
    assert again == config


# ---- retrowalk config check / show -----------------------------------------------------------------------

def test_check_prints_ok_and_exits_0_when_the_file_is_valid(tmp_path, capsys):
    path = write(tmp_path, "[sensor]\naccel_range_g = 8\n")
    assert main(["config", "check", str(path)]) == 0
    assert capsys.readouterr().out == f"{path}: OK\n"


def test_check_exits_78_with_the_key_named_when_the_file_is_wrong(tmp_path, capsys):
    path = write(tmp_path, "[sensor]\nacel_range_g = 8\n")
    assert main(["config", "check", str(path)]) == EX_CONFIG
    err = capsys.readouterr().err
    assert "acel_range_g is not a known key; did you mean accel_range_g?" in err


def test_check_exit_status_is_78_when_run_as_a_program(tmp_path):
    path = write(tmp_path, "[alerts]\nbuzzer_pin = 2\n")
    result = subprocess.run([sys.executable, "-m", "firmware_py.cli", "config", "check", str(path)],
                            capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 78
    assert "[alerts] buzzer_pin = 2" in result.stderr


def test_show_prints_the_effective_config_without_the_password_when_one_is_configured(tmp_path, capsys):
    (tmp_path / "pw").write_text("hunter2\n")
    path = write(tmp_path, "[mqtt]\nhost = \"broker.example\"\nusername = \"walker\"\npassword_file = \"pw\"\n")
    assert main(["config", "show", str(path)]) == 0
    out = capsys.readouterr().out
    assert 'host = "broker.example"' in out and f'password_file = "{tmp_path / "pw"}"' in out
    assert "hunter2" not in out
    assert tomllib.loads(out)["sensor"]["sample_rate_hz"] == Config().sensor.sample_rate_hz


def test_the_old_mqtt_max_mute_minutes_key_is_refused_naming_where_the_setting_lives_now(tmp_path):
    # it was a second copy of [alerts] mute_max_minutes, which the alert manager enforces
    message = error_of(write(tmp_path, "[mqtt]\nmax_mute_minutes = 60\n"))
    assert "max_mute_minutes" in message and "[alerts] mute_max_minutes" in message

"""The generic loader, on small settings classes defined here (the real sections are tested in test_config.py)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import pytest

from firmware_py.toml_settings import check_named_files, resolve_named_files, section_to_toml, settings_from_table
from firmware_py.errors import ConfigError

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib


@dataclass(frozen=True)
class ChirpSettings:
    pitch_hz: float = 2000.0
    pattern_s: Tuple[Tuple[float, float], ...] = ((0.1, 0.1),)


@dataclass(frozen=True)
class GadgetSettings:
    pin: int = 17
    gain: float = 1.5
    is_enabled: bool = True
    kind: str = "passive"
    levels_g: Tuple[float, ...] = (1.0, 2.0)
    names: List[str] = field(default_factory=lambda: ["a"])
    token_file: Optional[str] = None
    password: str = ""
    limits: Dict[str, float] = field(default_factory=dict)
    chirp: ChirpSettings = field(default_factory=ChirpSettings)

    def __post_init__(self) -> None:
        if self.kind not in ("active", "passive"):
            raise ValueError(f"kind = {self.kind!r} is not allowed; use active or passive")


def load(table, section="gadget"):
    return settings_from_table(GadgetSettings, table, "gadget.toml", section)


def error_of(table, section="gadget"):
    with pytest.raises(ConfigError) as info:
        load(table, section)
    return str(info.value)


def test_unset_keys_keep_their_defaults_when_a_table_sets_only_some():
    gadget = load({"pin": 27})
    assert gadget == GadgetSettings(pin=27)


def test_whole_number_is_accepted_as_a_float_when_written_without_a_decimal_point():
    gadget = load({"gain": 2})
    assert gadget.gain == 2.0 and isinstance(gadget.gain, float)


def test_true_is_rejected_when_the_key_wants_a_whole_number():
    assert error_of({"pin": True}) == "gadget.toml: [gadget] pin = true is not allowed; use a whole number"


def test_number_is_rejected_when_the_key_wants_true_or_false():
    assert error_of({"is_enabled": 1}) == ("gadget.toml: [gadget] is_enabled = 1 is not allowed; "
                                           "use true or false")


def test_fraction_is_rejected_when_the_key_wants_a_whole_number():
    assert "pin = 17.5 is not allowed; use a whole number" in error_of({"pin": 17.5})


def test_string_is_rejected_when_the_key_wants_a_number():
    assert 'gain = "high" is not allowed; use a number' in error_of({"gain": "high"})


def test_nearest_key_is_suggested_when_a_key_is_misspelt():
    assert error_of({"gian": 2.0}) == "gadget.toml: [gadget] gian is not a known key; did you mean gain?"


def test_unknown_key_lists_the_valid_keys_when_nothing_is_close():
    message = error_of({"volume_db": 3})
    assert "[gadget] volume_db is not a known key; the keys of [gadget] are pin, gain, is_enabled" in message


def test_section_rejection_is_prefixed_with_file_and_section_when_post_init_refuses_a_value():
    assert error_of({"kind": "loud"}) == ("gadget.toml: [gadget] kind = 'loud' is not allowed; "
                                          "use active or passive")


def test_subtable_builds_the_nested_settings_when_given():
    gadget = load({"chirp": {"pitch_hz": 3000, "pattern_s": [[0.2, 0.1], [0.05, 0.3]]}})
    assert gadget.chirp == ChirpSettings(pitch_hz=3000.0, pattern_s=((0.2, 0.1), (0.05, 0.3)))


def test_error_names_the_subtable_when_a_nested_key_is_misspelt():
    assert error_of({"chirp": {"pich_hz": 3000}}) == ("gadget.toml: [gadget.chirp] pich_hz is not a known key; "
                                                      "did you mean pitch_hz?")


def test_error_names_the_pair_shape_when_a_pattern_step_is_a_triple():
    message = error_of({"chirp": {"pattern_s": [[0.2, 0.1, 0.5]]}})
    assert message == ("gadget.toml: [gadget.chirp] pattern_s = [[0.2, 0.1, 0.5]] is not allowed; "
                       "use a list of [number, number]")


def test_error_says_it_is_a_table_when_a_subtable_is_written_as_a_value():
    assert "[gadget] chirp = 3 is not allowed; [gadget.chirp] is a table of settings" in error_of({"chirp": 3})


def test_lists_become_tuples_when_the_field_is_a_tuple_and_stay_lists_when_a_list():
    gadget = load({"levels_g": [1, 2.5], "names": ["x", "y"]})
    assert gadget.levels_g == (1.0, 2.5) and isinstance(gadget.levels_g, tuple)
    assert gadget.names == ["x", "y"]


def test_error_names_the_list_type_when_one_item_is_wrong():
    assert 'levels_g = [1, "two"] is not allowed; use a list of numbers' in error_of({"levels_g": [1, "two"]})


def test_optional_key_takes_a_value_of_its_type_when_set():
    assert load({"token_file": "/etc/token"}).token_file == "/etc/token"
    assert "token_file = 5 is not allowed; use a string in quotes" in error_of({"token_file": 5})


def test_table_valued_key_converts_its_values_when_a_mapping():
    assert load({"limits": {"tilt_deg": 30}}).limits == {"tilt_deg": 30.0}


def test_missing_named_file_is_rejected_when_the_path_does_not_exist(tmp_path):
    gadget = load({"token_file": "missing-token"})
    with pytest.raises(ConfigError) as info:
        check_named_files(gadget, "gadget.toml", base=tmp_path)
    assert 'token_file = "missing-token" is not allowed; no such file' in str(info.value)
    assert str(tmp_path / "missing-token") in str(info.value)


def test_dump_reads_back_to_equal_settings_when_loaded_again():
    gadget = load({"pin": 5, "gain": 0.5, "is_enabled": False, "levels_g": [3],
                   "chirp": {"pattern_s": [[0.2, 0.1]]}, "limits": {"a": 1.0}})
    text = section_to_toml("gadget", gadget, redact=False)
    assert load(tomllib.loads(text)["gadget"]) == gadget


def test_dump_hides_secret_looking_values_when_redacting():
    gadget = load({"password": "hunter2"})
    text = section_to_toml("gadget", gadget)
    assert "hunter2" not in text
    assert 'password = "<redacted>"' in text


@dataclass(frozen=True)
class TlsLikeSettings:
    certfile: str = ""
    keyfile: str = ""
    profile: str = "walking"


def test_certificate_files_are_checked_when_named_like_ssl_does(tmp_path):
    settings = settings_from_table(TlsLikeSettings, {"keyfile": "client.key"}, "tls.toml", "tls")
    with pytest.raises(ConfigError, match='keyfile = "client.key" is not allowed; no such file'):
        check_named_files(settings, "tls.toml", base=tmp_path)


def test_a_key_merely_ending_in_file_letters_keeps_its_value_when_the_config_is_loaded(tmp_path):
    # "profile" ends in the letters "file": taken for a path, "running" would be refused as a missing file
    # and rewritten to an absolute path next to the config
    settings = TlsLikeSettings(profile="running")
    check_named_files(settings, "tls.toml", base=tmp_path)
    assert resolve_named_files(settings, base=tmp_path).profile == "running"

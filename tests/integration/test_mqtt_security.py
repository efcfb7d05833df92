"""Login and TLS against a real Mosquitto: a refusal is reported in words (and the password never appears), TLS
works with a CA the test makes, and a broker certificate from another CA is refused with the reason."""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

from firmware_py.cli import main as retrowalk
from firmware_py.events import Event
from firmware_py.transport.mqtt import MqttSettings, MqttTlsSettings, Publisher
from firmware_py.transport.outbox import Outbox
from hal.clock import MonotonicClock
from tests.broker import Mosquitto
from tests.integration.test_mqtt import DEVICE, events_in, make_event, pump, receive, settings_for
from firmware_py.transport.mqtt import Follower

pytestmark = pytest.mark.broker

RIGHT, WRONG = "correct-horse-7", "battery-staple-9"

# Started as root, mosquitto drops to the 'mosquitto' user and then cannot read files under pytest's
# private tmp_path; "user root" keeps it as the test's user (ignored when not started as root).
STAY = ["user root"] if os.geteuid() == 0 else []


@pytest.fixture
def auth_broker(tmp_path):
    passwd = shutil.which("mosquitto_passwd")
    if passwd is None:
        pytest.fail("mosquitto_passwd is not installed (it comes with the mosquitto package)")
    password_file = tmp_path / "passwd"
    subprocess.run([passwd, "-b", "-c", str(password_file), "walker", RIGHT], check=True, capture_output=True)
    broker = Mosquitto(tmp_path / "broker", extra_conf=STAY + ["allow_anonymous false",
                                                                   f"password_file {password_file}"])
    broker.start()
    yield broker
    broker.stop()


def secret(tmp_path: Path, text: str) -> str:
    path = tmp_path / f"secret-{len(text)}-{text[:3]}"
    path.write_text(text + "\n")
    path.chmod(0o600)
    return str(path)


def test_wrong_password_is_reported_as_refused_in_words_and_never_logged(auth_broker, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    outbox = Outbox(tmp_path / "o.sqlite3", MonotonicClock())
    pub = Publisher(settings_for(auth_broker, username="walker", password_file=secret(tmp_path, WRONG)),
                    outbox, MonotonicClock())
    pub.start()
    try:
        assert pump(pub, lambda: pub.last_error is not None)
        assert pub.last_error == (f"broker mqtt://127.0.0.1:{auth_broker.port} refused the connection: "
                                  f"Not authorized") or "Bad user name or password" in pub.last_error
        assert not pub.is_connected
    finally:
        pub.close()
        outbox.close()
    assert WRONG not in caplog.text and WRONG not in repr(pub.settings)


@contextmanager
def started_publisher(settings: MqttSettings, tmp_path: Path) -> Iterator[Tuple[Publisher, Outbox]]:
    outbox = Outbox(tmp_path / "o.sqlite3", MonotonicClock())
    pub = Publisher(settings, outbox, MonotonicClock())
    pub.start()
    try:
        yield pub, outbox
    finally:
        pub.close()
        outbox.close()


def deliver_one_event(settings: MqttSettings, pub: Publisher, outbox: Outbox) -> Tuple[Event, List[dict]]:
    """Put one event in the outbox; return it and what a subscriber with the same settings received."""
    with Follower(settings, ["retrowalk/+/event"]).start() as sub:
        event = make_event()
        outbox.put(event, DEVICE)
        return event, events_in(receive(sub, lambda g: len(g) >= 1, publisher=pub))


def test_right_password_from_its_file_connects_and_delivers(auth_broker, tmp_path):
    settings = settings_for(auth_broker, username="walker", password_file=secret(tmp_path, RIGHT))
    with started_publisher(settings, tmp_path) as (pub, outbox):
        event, got = deliver_one_event(settings, pub, outbox)
        assert got[0]["id"] == event.id and pub.last_error is None


def test_alerts_exits_non_zero_with_the_refusal_when_the_password_is_wrong(auth_broker, tmp_path, capsys):
    code = retrowalk(["alerts", "--port", str(auth_broker.port), "--username", "walker",
                      "--password-file", secret(tmp_path, WRONG), "--connect-timeout", "10"])
    err = capsys.readouterr().err
    assert code == 1
    assert "retrowalk alerts: broker mqtt://127.0.0.1:" in err and "refused the connection: Not authorized" in err
    assert WRONG not in err


def test_unreadable_password_file_is_a_config_error_naming_it(tmp_path):
    settings = MqttSettings(port=1883, device_id=DEVICE, username="walker", password_file=str(tmp_path / "nope"))
    from firmware_py.errors import ConfigError

    with pytest.raises(ConfigError, match=r"password_file = '.*nope' cannot be read"):
        Publisher(settings, Outbox(tmp_path / "o.sqlite3", MonotonicClock()), MonotonicClock())


# ---- TLS ---------------------------------------------------------------------------------------------------

def make_ca(directory: Path, name: str) -> Path:
    """A throwaway CA (P-256) in ``directory``; returns the CA certificate path."""
    openssl = shutil.which("openssl") or pytest.fail("openssl is not installed")
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(directory / "ca.key"), "-out", str(directory / "ca.crt"), "-days", "2",
                    "-subj", f"/CN={name}", "-addext", "basicConstraints=critical,CA:TRUE",
                    "-addext", "keyUsage=critical,keyCertSign,cRLSign"], check=True, capture_output=True)
    return directory / "ca.crt"


def make_server_cert(ca_dir: Path) -> tuple:
    openssl = shutil.which("openssl")
    key, csr, crt, ext = (ca_dir / n for n in ("server.key", "server.csr", "server.crt", "server.ext"))
    ext.write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n"
                   "extendedKeyUsage=serverAuth\n")
    subprocess.run([openssl, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(key), "-out", str(csr), "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    subprocess.run([openssl, "x509", "-req", "-in", str(csr), "-CA", str(ca_dir / "ca.crt"), "-CAkey",
                    str(ca_dir / "ca.key"), "-CAcreateserial", "-out", str(crt), "-days", "2", "-extfile", str(ext)],
                   check=True, capture_output=True)
    return crt, key


@pytest.fixture
def tls_broker(tmp_path):
    ca = make_ca(tmp_path / "ca", "retrowalk test CA")
    crt, key = make_server_cert(tmp_path / "ca")
    broker = Mosquitto(tmp_path / "broker", extra_conf=STAY + [f"cafile {ca}", f"certfile {crt}",
                                                                   f"keyfile {key}"])
    broker.start()
    broker.ca_file = ca
    yield broker
    broker.stop()


def test_events_are_delivered_over_tls_when_the_broker_certificate_is_from_the_given_ca(tls_broker, tmp_path):
    tls = MqttTlsSettings(enabled=True, ca_file=str(tls_broker.ca_file))
    settings = settings_for(tls_broker, tls=tls)
    with started_publisher(settings, tmp_path) as (pub, outbox):
        event, got = deliver_one_event(settings, pub, outbox)
        assert got[0]["id"] == event.id
        assert pump(pub, lambda: outbox.depth() == 0)


def test_broker_certificate_from_another_ca_is_refused_with_the_reason(tls_broker, tmp_path):
    other_ca = make_ca(tmp_path / "other", "somebody else's CA")
    outbox = Outbox(tmp_path / "o.sqlite3", MonotonicClock())
    pub = Publisher(settings_for(tls_broker, tls=MqttTlsSettings(enabled=True, ca_file=str(other_ca))),
                    outbox, MonotonicClock())
    pub.start()
    try:
        assert pump(pub, lambda: pub.last_error is not None)
        assert "TLS failed: the broker's certificate was not accepted" in pub.last_error
        assert "ca_file" in pub.last_error
        assert not pub.is_connected
    finally:
        pub.close()
        outbox.close()


def test_missing_ca_file_is_a_config_error_naming_the_key(tmp_path):
    from firmware_py.errors import ConfigError

    settings = MqttSettings(device_id=DEVICE, tls=MqttTlsSettings(enabled=True, ca_file=str(tmp_path / "ca.crt")))
    with pytest.raises(ConfigError, match=r"\[mqtt.tls\] ca_file = '.*ca.crt' does not exist"):
        Publisher(settings, Outbox(tmp_path / "o.sqlite3", MonotonicClock()), MonotonicClock())

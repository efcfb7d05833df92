"""sd_notify against a real AF_UNIX datagram socket, as systemd would listen."""
from __future__ import annotations

import logging
import os
import socket
import uuid

import pytest

from firmware_py.daemon.sdnotify import Notifier


@pytest.fixture
def listener(tmp_path):
    """A bound notify socket (path form) and a reader for what arrives on it."""
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    yield str(path), sock
    sock.close()


def received(sock):
    sock.settimeout(0)
    messages = []
    while True:
        try:
            messages.append(sock.recv(4096).decode())
        except BlockingIOError:
            return messages


def test_ready_status_watchdog_and_stopping_arrive_in_order_when_notify_socket_is_a_path(listener):
    path, sock = listener
    notifier = Notifier({"NOTIFY_SOCKET": path})
    assert notifier.ready() and notifier.status("sampling 200 Hz") and notifier.watchdog() and notifier.stopping()
    assert received(sock) == ["READY=1", "STATUS=sampling 200 Hz", "WATCHDOG=1", "STOPPING=1"]
    notifier.close()


def test_messages_arrive_when_notify_socket_is_abstract():
    name = f"retrowalk-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    try:
        notifier = Notifier({"NOTIFY_SOCKET": "@" + name})
        notifier.ready()
        assert received(sock) == ["READY=1"]
        notifier.close()
    finally:
        sock.close()


def test_status_stays_on_one_line_when_the_text_has_newlines(listener):
    path, sock = listener
    Notifier({"NOTIFY_SOCKET": path}).status("broker offline\n3 events queued")
    assert received(sock) == ["STATUS=broker offline 3 events queued"]


def test_every_call_is_a_silent_no_op_when_not_under_systemd(caplog):
    notifier = Notifier({})
    with caplog.at_level(logging.DEBUG, logger="firmware_py.daemon.sdnotify"):
        assert not notifier.is_enabled
        assert notifier.ready() is False and notifier.watchdog() is False and notifier.stopping() is False
    assert caplog.records == []


def test_send_failure_is_logged_not_raised_when_the_socket_is_gone(tmp_path, caplog):
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "nobody-listens")})
    with caplog.at_level(logging.WARNING, logger="firmware_py.daemon.sdnotify"):
        assert notifier.ready() is False
        assert notifier.watchdog() is False
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "could not notify systemd (READY)" in warnings[0].getMessage()


def test_delivery_resumes_when_the_socket_appears_after_a_failure(tmp_path):
    path = tmp_path / "late"
    notifier = Notifier({"NOTIFY_SOCKET": str(path)})
    assert notifier.ready() is False
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    try:
        assert notifier.watchdog() is True
        assert received(sock) == ["WATCHDOG=1"]
    finally:
        sock.close()
        notifier.close()


def test_watchdog_interval_is_half_the_timeout_when_watchdog_pid_is_ours():
    assert Notifier({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "4242"}, pid=4242).watchdog_interval_s == 5.0


def test_watchdog_interval_is_half_the_timeout_when_watchdog_pid_is_unset():
    assert Notifier({"WATCHDOG_USEC": "3000000"}).watchdog_interval_s == 1.5


def test_watchdog_is_off_when_watchdog_pid_names_another_process():
    assert Notifier({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "1"}, pid=4242).watchdog_interval_s is None


def test_watchdog_is_off_when_watchdog_usec_is_missing_or_not_a_number():
    assert Notifier({}).watchdog_interval_s is None
    assert Notifier({"WATCHDOG_USEC": "ten"}).watchdog_interval_s is None
    assert Notifier({"WATCHDOG_USEC": "0"}).watchdog_interval_s is None

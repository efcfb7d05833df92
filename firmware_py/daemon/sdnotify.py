"""Telling systemd how we are: READY=1, STATUS=, WATCHDOG=1, STOPPING=1 (sd_notify(3), no dependency).

One datagram per message to the socket named by ``$NOTIFY_SOCKET``; a leading ``@`` names a socket in the
abstract namespace. Outside systemd (no ``NOTIFY_SOCKET``) every call is a silent no-op, and a failed send is
logged, never raised: losing a status line must not stop the monitor.

The watchdog (sd_watchdog_enabled(3)): systemd sets ``WATCHDOG_USEC`` (and ``WATCHDOG_PID``) when the unit
has ``WatchdogSec=``; we must send ``WATCHDOG=1`` at least that often, and half of it is the usual interval.
The daemon pings from its sampling loop only after samples arrived, so a hung I2C read stops the pings and
systemd restarts the service; a timer thread would only prove that the interpreter is alive.

Example::

    notifier = Notifier()          # reads os.environ
    notifier.ready()
    notifier.status("sampling 200 Hz, broker connected")
    if notifier.watchdog_interval_s is not None: ...
"""
from __future__ import annotations

import logging
import os
import socket
from typing import Mapping, Optional

log = logging.getLogger(__name__)

__all__ = ["Notifier"]


class Notifier:
    """Messages to systemd's notify socket.

    Parameters
    ----------
    environ : mapping
        Where ``NOTIFY_SOCKET``, ``WATCHDOG_USEC`` and ``WATCHDOG_PID`` are read (``os.environ`` by default;
        tests pass a dict).
    pid : int, optional
        Our process id, compared with ``WATCHDOG_PID`` (default ``os.getpid()``).
    """

    def __init__(self, environ: Optional[Mapping[str, str]] = None, pid: Optional[int] = None) -> None:
        environ = os.environ if environ is None else environ
        self._address = _socket_address(environ.get("NOTIFY_SOCKET", ""))
        self.watchdog_interval_s = _watchdog_interval_s(environ, os.getpid() if pid is None else pid)
        self._sock: Optional[socket.socket] = None
        self._failures = 0

    @property
    def is_enabled(self) -> bool:
        """Whether systemd is listening (``NOTIFY_SOCKET`` was set)."""
        return self._address is not None

    def ready(self) -> bool:
        """Startup is complete (sensor and config are up): systemd now considers the unit started."""
        return self.notify("READY=1")

    def status(self, text: str) -> bool:
        """One line ``systemctl status`` shows, e.g. ``sampling 200 Hz, broker offline, 3 events queued``."""
        return self.notify("STATUS=" + " ".join(str(text).split()))  # one line: a newline ends the field

    def watchdog(self) -> bool:
        """We are still making progress; call at least every ``watchdog_interval_s``."""
        return self.notify("WATCHDOG=1")

    def stopping(self) -> bool:
        """Shutdown has begun (systemd then waits for us to exit rather than for a watchdog ping)."""
        return self.notify("STOPPING=1")

    def notify(self, message: str) -> bool:
        """Send one raw sd_notify message; ``True`` when it was sent, ``False`` when there is no socket or
        the send failed (logged)."""
        if self._address is None:
            return False
        try:
            if self._sock is None:
                # Non-blocking: the daemon notifies from its sampling loop, and a reader that stops reading
                # (the socket's queue holds ~10 datagrams) must cost a dropped message, not a stalled loop.
                self._sock = socket.socket(socket.AF_UNIX,
                                           socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK)
            self._sock.sendto(message.encode("utf-8"), self._address)
        except OSError as exc:
            self._failures += 1
            # the first failure is worth a warning; repeating it every watchdog ping would flood the journal
            level = logging.WARNING if self._failures == 1 else logging.DEBUG
            log.log(level, "could not notify systemd (%s): %s", message.split("=", 1)[0], exc)
            self.close()
            return False
        return True

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()


def _socket_address(name: str) -> Optional[str]:
    if not name:
        return None
    if name.startswith("@"):
        return "\0" + name[1:]  # Linux abstract namespace
    if name.startswith("/"):
        return name
    log.warning("ignoring NOTIFY_SOCKET=%r: not a path or an @abstract name", name)
    return None


def _watchdog_interval_s(environ: Mapping[str, str], pid: int) -> Optional[float]:
    usec = environ.get("WATCHDOG_USEC", "")
    watchdog_pid = environ.get("WATCHDOG_PID", "")
    if watchdog_pid:
        try:
            if int(watchdog_pid) != pid:
                return None  # meant for another process (we were started by one that got it)
        except ValueError:
            log.warning("ignoring WATCHDOG_PID=%r: not a process id", watchdog_pid)
            return None
    try:
        usec_value = int(usec)
    except ValueError:
        if usec:
            log.warning("ignoring WATCHDOG_USEC=%r: not a whole number of microseconds", usec)
        return None
    if usec_value <= 0:
        return None
    return usec_value / 1e6 / 2

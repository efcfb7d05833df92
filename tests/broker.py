"""A real Mosquitto broker for tests: started on a free 127.0.0.1 port, stoppable and restartable
on the *same* port (to make outages), killed at teardown. Never listens on anything but loopback."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import List, Optional


def find_mosquitto() -> Optional[str]:
    # Debian installs it in /usr/sbin, which is not on a normal user's PATH
    return shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")


def stop_process(proc: Optional[subprocess.Popen], timeout_s: float) -> None:
    """SIGTERM, up to ``timeout_s`` for it to end, then SIGKILL."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mosquitto:
    """One broker process. ``extra_conf`` lines are appended to the listener block (auth, TLS...)."""

    def __init__(self, workdir: Path, port: Optional[int] = None, extra_conf: List[str] = ()) -> None:
        exe = find_mosquitto()
        if exe is None:
            raise RuntimeError("mosquitto is not installed: run 'sudo apt-get install mosquitto' (or 'make test')")
        self.exe = exe
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.conf = self.workdir / "mosquitto.conf"
        lines = [f"listener {self.port} 127.0.0.1", "persistence false",
                 f"log_dest file {self.workdir / 'mosquitto.log'}", "log_type error", "log_type warning"]
        if hasattr(os, "geteuid") and os.geteuid() == 0 and not any(l.startswith("user ") for l in extra_conf):
            # as root, mosquitto drops to the 'mosquitto' user, which cannot read pytest's private tmp dir
            lines.append("user root")
        if not any(l.startswith(("allow_anonymous", "password_file")) for l in extra_conf):
            lines.append("allow_anonymous true")
        lines += list(extra_conf)
        self.conf.write_text("\n".join(lines) + "\n")
        self.proc: Optional[subprocess.Popen] = None

    def start(self, timeout_s: float = 10.0) -> "Mosquitto":
        self.proc = subprocess.Popen([self.exe, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited at start: {self.proc.stderr.read().decode(errors='replace')}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.02)  # waiting on a foreign process's socket: there is no event to wait on
        raise RuntimeError(f"mosquitto did not listen on {self.host}:{self.port} within {timeout_s} s")

    def stop(self) -> None:
        stop_process(self.proc, 5.0)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self) -> "Mosquitto":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

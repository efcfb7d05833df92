"""The clock decides how long a wait lasts: the daemon's loop waits through it, so tests run on virtual time."""
import threading

from hal.clock import FakeClock, MonotonicClock


def test_a_wait_on_virtual_time_moves_the_clock_and_returns_at_once_when_nothing_stops_it():
    clock = FakeClock(start_s=10.0)
    assert clock.wait(threading.Event(), 2.5) is False
    assert clock.monotonic() == 12.5


def test_a_wait_on_virtual_time_does_not_move_the_clock_when_a_stop_was_asked_for():
    clock, stop = FakeClock(start_s=10.0), threading.Event()
    stop.set()
    assert clock.wait(stop, 60.0) is True
    assert clock.monotonic() == 10.0


def test_a_wait_on_the_real_clock_ends_when_a_stop_is_asked_for():
    stop = threading.Event()
    stop.set()  # set before: the wait must not last its hour
    assert MonotonicClock().wait(stop, 3600.0) is True

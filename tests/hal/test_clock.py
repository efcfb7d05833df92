"""The clock decides how long a wait lasts: the daemon's loop waits through it, so tests run on virtual time."""
import signal
import threading
import time

from hal.clock import FakeClock, MonotonicClock, StopFlag


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


def test_a_stop_flag_set_from_another_thread_ends_a_long_wait_at_once_and_every_wait_after_it():
    stop, clock = StopFlag(), MonotonicClock()
    assert stop.is_set() is False
    assert clock.wait(stop, 0.0) is False          # nothing set: a zero wait just returns
    setter = threading.Timer(0.01, stop.set)
    setter.start()
    started = time.monotonic()
    assert clock.wait(stop, 30.0) is True          # would last 30 s if set() did not end it
    setter.join()
    assert time.monotonic() - started < 10.0
    stop.set()                                      # a second stop is harmless
    assert clock.wait(stop, 3600.0) is True and stop.is_set()


def test_a_stop_flag_set_by_a_signal_handler_ends_the_main_threads_wait():
    stop = StopFlag()
    previous = signal.signal(signal.SIGALRM, lambda signum, frame: stop.set())
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.01)  # SIGTERM's path: the handler runs in the waiting thread
        started = time.monotonic()
        assert MonotonicClock().wait(stop, 30.0) is True
        assert time.monotonic() - started < 10.0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)

"""Fixtures shared by every test layer: virtual time, gpiozero mock pins, a state dir, a real broker."""
from __future__ import annotations

import pytest

from hal.clock import FakeClock


def pytest_collection_modifyitems(items):
    """Modules with a ``slow`` test run first, each kept whole (its module fixtures are made once): ``make test``
    hands whole files to two workers in this order, and a 45 s file started last would leave one worker running
    alone at the end."""
    slow_modules = {item.module for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.module not in slow_modules)  # stable: the order within stays


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def mock_factory():
    """A fresh gpiozero MockFactory, passed explicitly (``pin_factory=``), never set class-wide."""
    from gpiozero.pins.mock import MockFactory

    factory = MockFactory()
    yield factory
    factory.reset()
    factory.close()


@pytest.fixture
def pwm_factory():
    """MockFactory whose pins support PWM (TonalBuzzer / PWMOutputDevice need it)."""
    from gpiozero.pins.mock import MockFactory, MockPWMPin

    factory = MockFactory(pin_class=MockPWMPin)
    yield factory
    factory.reset()
    factory.close()


@pytest.fixture
def state_dir(tmp_path):
    d = tmp_path / "state"
    d.mkdir()
    return d


@pytest.fixture
def daemons():
    """Daemons a test built (append them): closed at the end, so pins and outboxes are let go."""
    built = []
    yield built
    for daemon in built:
        daemon.close()


@pytest.fixture
def mosquitto(tmp_path):
    """A real broker on a free loopback port, for this test only (it may stop/restart it)."""
    from tests.broker import Mosquitto, find_mosquitto

    if find_mosquitto() is None:
        pytest.fail("mosquitto is not installed: 'make test' installs it; or run 'sudo apt-get install mosquitto'")
    broker = Mosquitto(tmp_path / "broker").start()
    yield broker
    broker.stop()

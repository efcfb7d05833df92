"""The real driver against the emulated chip: raw counts in, g and °/s out, faults as typed errors."""
from __future__ import annotations

import errno

import numpy as np
import pytest
from hypothesis import given, settings as hyp_settings, strategies as st

from hal.clock import FakeClock
from hal.emulated import ArrayMotion, EmulatedI2CBus, EmulatedMpu6050, FaultPlan
from hal.errors import SensorBusError, SensorIdentityError, SensorNotFound, SensorTimeout
from hal.mpu6050 import Mpu6050, SensorSettings, parse_axes_map

FINE_COUNTS = 20000   # counts per second of the fine time channel: 50 µs resolution


class TimeCodeMotion:
    """Each sample carries the chip time it was made at: whole seconds in accel y, the fraction in accel x
    and again in gyro x. Decoding both from a frame tells order, loss, duplication and frame alignment."""

    def sample(self, t_s):
        whole = np.floor(t_s)
        fine = (t_s - whole) * FINE_COUNTS
        accel_g = np.c_[fine / 2048, whole / 2048, np.ones_like(t_s)]
        gyro_dps = np.c_[fine / 16.4, np.zeros_like(t_s), np.zeros_like(t_s)]
        return accel_g, gyro_dps


def decode_time(block):
    """(chip time of each sample, whether accel and gyro of each frame come from the same sample)."""
    fine = np.rint(block.accel_g[:, 0] * 2048)
    whole = np.rint(block.accel_g[:, 1] * 2048)
    fine_from_gyro = np.rint(block.gyro_dps[:, 0] * 16.4)
    return whole + fine / FINE_COUNTS, fine == fine_from_gyro


def make(fake_clock, motion=None, settings=None, **chip_kwargs):
    chip = EmulatedMpu6050(fake_clock, motion=motion, **chip_kwargs)
    bus = EmulatedI2CBus({0x68: chip})
    return chip, bus, Mpu6050(bus, settings or SensorSettings(), fake_clock)


def run(fake_clock, driver, duration_s, poll_s):
    blocks = []
    for _ in range(int(round(duration_s / poll_s))):
        fake_clock.advance(poll_s)
        blocks.append(driver.read())
    return blocks


@pytest.mark.parametrize("rate_hz, poll_s", [(100, 0.1), (200, 0.1), (500, 0.08), (1000, 0.05)])
def test_no_sample_is_lost_or_reordered_when_polled_for_ten_minutes(fake_clock, rate_hz, poll_s):
    chip, _, driver = make(fake_clock, TimeCodeMotion(), SensorSettings(sample_rate_hz=rate_hz))
    blocks = run(fake_clock, driver, 600.0, poll_s)
    t_chip = np.concatenate([decode_time(b)[0] for b in blocks])
    aligned = np.concatenate([decode_time(b)[1] for b in blocks])
    t_s = np.concatenate([b.t_s for b in blocks])
    period_s = 1.0 / rate_hz
    assert sum(b.lost_samples for b in blocks) == 0 and driver.overflows == 0
    assert len(t_chip) >= chip.samples_generated - 1 and len(t_chip) >= 600 * rate_hz - 2
    steps = np.diff(t_chip) / period_s
    assert steps.min() > 0.95 and steps.max() < 1.05                 # none lost, doubled or reordered
    assert aligned.all()   # accel and gyro of one frame
    # Timestamps follow the chip's own sample times within a period, and never step back.
    assert np.all(np.diff(t_s) > 0)
    assert np.max(np.abs(t_s - (t_chip + chip.created_at_s))) <= period_s


def test_timestamps_track_a_fast_chip_oscillator_when_it_runs_one_percent_fast(fake_clock):
    chip, _, driver = make(fake_clock, TimeCodeMotion(), rate_error_ppm=10_000)
    blocks = run(fake_clock, driver, 120.0, 0.1)
    t_s = np.concatenate([b.t_s for b in blocks])
    t_chip = np.concatenate([decode_time(b)[0] for b in blocks])
    assert sum(b.lost_samples for b in blocks) == 0
    assert np.max(np.abs(t_s - (t_chip + chip.created_at_s))) <= 0.005
    assert np.all(np.diff(t_s) > 0)


@pytest.mark.parametrize("accel_range_g", [2, 4, 8, 16])
@hyp_settings(max_examples=25, deadline=None)
@given(fraction=st.lists(st.floats(-0.999, 0.999), min_size=3, max_size=3))
def test_accel_decodes_within_one_lsb_when_any_value_in_range_is_read(accel_range_g, fraction):
    fake_clock = FakeClock()  # one per example: hypothesis reruns the body
    accel_g = np.array(fraction) * accel_range_g
    motion = ArrayMotion([0.0], [accel_g], [[0.0, 0.0, 0.0]])
    _, _, driver = make(fake_clock, motion, SensorSettings(accel_range_g=accel_range_g))
    fake_clock.advance(0.05)
    lsb_g = accel_range_g / 32768
    assert np.abs(driver.read().accel_g - accel_g).max() <= lsb_g
    assert np.abs(driver.read_single().accel_g[0] - accel_g).max() <= lsb_g


@pytest.mark.parametrize("gyro_range_dps", [250, 500, 1000, 2000])
@hyp_settings(max_examples=25, deadline=None)
@given(fraction=st.lists(st.floats(-0.999, 0.999), min_size=3, max_size=3))
def test_gyro_decodes_within_one_lsb_when_any_value_in_range_is_read(gyro_range_dps, fraction):
    fake_clock = FakeClock()  # one per example: hypothesis reruns the body
    gyro_dps = np.array(fraction) * gyro_range_dps
    motion = ArrayMotion([0.0], [[0.0, 0.0, 1.0]], [gyro_dps])
    _, _, driver = make(fake_clock, motion, SensorSettings(gyro_range_dps=gyro_range_dps))
    fake_clock.advance(0.05)
    lsb_dps = {250: 1 / 131, 500: 1 / 65.5, 1000: 1 / 32.8, 2000: 1 / 16.4}[gyro_range_dps]
    assert np.abs(driver.read().gyro_dps - gyro_dps).max() <= lsb_dps
    assert np.abs(driver.read_single().gyro_dps[0] - gyro_dps).max() <= lsb_dps


def test_impact_saturates_at_full_scale_when_it_exceeds_the_range(fake_clock):
    motion = ArrayMotion([0.0], [[5.0, -5.0, 1.0]], [[0.0, 0.0, 0.0]])
    _, _, driver = make(fake_clock, motion, SensorSettings(accel_range_g=4))
    fake_clock.advance(0.05)
    accel_g = driver.read().accel_g
    assert accel_g[:, 0].max() == pytest.approx(32767 / 8192) and accel_g[:, 1].min() == -4.0


def test_axes_map_reorders_and_flips_axes_when_the_sensor_is_mounted_turned(fake_clock):
    motion = ArrayMotion([0.0], [[0.1, 0.2, 0.9]], [[10.0, 20.0, 30.0]])
    _, _, driver = make(fake_clock, motion, SensorSettings(axes_map="-z,y,x"))
    fake_clock.advance(0.05)
    block = driver.read()
    assert block.accel_g[0] == pytest.approx([-0.9, 0.2, 0.1], abs=1e-3)
    assert block.gyro_dps[0] == pytest.approx([-30.0, 20.0, 10.0], abs=0.1)
    assert driver.read_single().accel_g[0] == pytest.approx([-0.9, 0.2, 0.1], abs=1e-3)


def test_overflow_is_reported_as_a_gap_and_frames_stay_aligned_when_the_host_stalls(fake_clock):
    chip, _, driver = make(fake_clock, TimeCodeMotion())
    before = run(fake_clock, driver, 5.0, 0.1)
    fake_clock.advance(2.0)                                   # 400 samples into an 85-frame FIFO
    after = run(fake_clock, driver, 5.0, 0.1)
    blocks = before + after
    delivered = sum(len(b) for b in blocks)
    lost = sum(b.lost_samples for b in blocks)
    assert driver.overflows == 1
    assert abs(lost - (chip.samples_generated - delivered)) <= 2
    assert 390 <= lost <= 420
    t_chip, aligned = (np.concatenate(x) for x in zip(*(decode_time(b) for b in after)))
    assert aligned.all()      # no misaligned frame
    assert np.all(np.abs(np.diff(t_chip) - 0.005) < 1e-4)                    # consecutive after the gap
    gap_block = next(b for b in after if b.lost_samples)
    previous_t = np.concatenate([b.t_s for b in before])[-1]
    assert gap_block.t_s[0] - previous_t == pytest.approx((gap_block.lost_samples + 1) * 0.005, abs=0.006)


def test_forced_overflow_is_reported_as_a_gap_when_the_fault_plan_injects_it(fake_clock):
    chip, _, driver = make(fake_clock, TimeCodeMotion(), faults=FaultPlan(overflow_at_s=[3.03]))
    blocks = run(fake_clock, driver, 6.0, 0.1)
    t_chip, aligned = (np.concatenate(x) for x in zip(*(decode_time(b) for b in blocks)))
    assert aligned.all()
    lost = sum(b.lost_samples for b in blocks)
    assert driver.overflows == 1 and lost > 0
    assert abs(lost - (chip.samples_generated - len(t_chip))) <= 2


def test_nacks_are_retried_and_counted_without_losing_data_when_the_bus_is_noisy(fake_clock):
    chip, _, driver = make(fake_clock, TimeCodeMotion(), faults=FaultPlan(nack_rate=0.05, seed=1))
    blocks = run(fake_clock, driver, 60.0, 0.1)
    t_chip = np.concatenate([decode_time(b)[0] for b in blocks])
    assert driver.retries == chip.nacks > 20
    assert sum(b.lost_samples for b in blocks) == 0
    assert np.all(np.abs(np.diff(t_chip) - 0.005) < 1e-4)


def test_bus_error_names_bus_address_register_and_errno_when_nacks_persist(fake_clock):
    chip, bus, driver = make(fake_clock, TimeCodeMotion(), faults=FaultPlan(nack_windows_s=[(2.1, 3.0)]))
    run(fake_clock, driver, 2.0, 0.1)
    fake_clock.advance(0.1)
    with pytest.raises(SensorBusError, match=r"I2C bus 1, device 0x68, register 0x(41|72) \((TEMP_OUT_H|FIFO_COUNTH)\)"
                       r".*errno 121.*pin 3") as info:
        driver.read()
    assert (info.value.bus, info.value.address, info.value.errno_) == (1, 0x68, errno.EREMOTEIO)
    assert info.value.register in (0x41, 0x72)
    assert driver.retries == SensorSettings().bus_retries
    fake_clock.advance(1.0)                                    # the bus is back: the same driver carries on
    blocks = run(fake_clock, driver, 1.0, 0.1)
    t_chip, aligned = (np.concatenate(x) for x in zip(*(decode_time(b) for b in blocks)))
    assert aligned.all()
    assert blocks[0].lost_samples > 150 or sum(b.lost_samples for b in blocks) > 150


def test_vanished_sensor_is_not_found_then_found_again_when_it_comes_back(fake_clock):
    chip = EmulatedMpu6050(fake_clock, faults=FaultPlan(vanish_windows_s=[(0.0, 1.0)]))
    bus = EmulatedI2CBus({0x68: chip})
    with pytest.raises(SensorNotFound, match=r"bus 1 at address 0x68.*pin 3.*raspi-config"):
        Mpu6050(bus, SensorSettings(), fake_clock)
    fake_clock.advance(1.0)
    driver = Mpu6050(bus, SensorSettings(), fake_clock)
    fake_clock.advance(0.1)
    assert len(driver.read()) == 20


def test_frozen_chip_yields_no_samples_then_reports_the_gap_when_it_resumes(fake_clock):
    chip, _, driver = make(fake_clock, TimeCodeMotion(), faults=FaultPlan(freeze_windows_s=[(2.0, 4.0)]))
    blocks = run(fake_clock, driver, 6.0, 0.1)
    sizes = [len(b) for b in blocks]
    assert sizes[22:38] == [0] * 16                            # nothing new while frozen
    gap = [b.lost_samples for b in blocks if b.lost_samples]
    assert len(gap) == 1 and 395 <= gap[0] <= 405             # 2 s at 200 Hz, reported once, as a gap
    t_s = np.concatenate([b.t_s for b in blocks])
    t_chip = np.concatenate([decode_time(b)[0] for b in blocks])
    assert np.max(np.abs(t_s - (t_chip + chip.created_at_s))) < 0.005


def test_wrong_chip_is_named_with_bus_address_value_and_fixes_when_who_am_i_differs(fake_clock):
    bus = EmulatedI2CBus({0x68: EmulatedMpu6050(fake_clock, who_am_i=0x70)})
    with pytest.raises(SensorIdentityError) as info:
        Mpu6050(bus, SensorSettings(), fake_clock)
    message = str(info.value)
    for needle in ("I2C bus 1", "address 0x68", "reads 0x70", "expected 0x68", "AD0", "0x69", "raspi-config",
                   "pin 3", "pin 5", "3.3 V"):
        assert needle in message


def test_missing_sensor_is_not_found_when_the_address_is_wrong(fake_clock):
    bus = EmulatedI2CBus({0x68: EmulatedMpu6050(fake_clock)})
    with pytest.raises(SensorNotFound, match="address 0x69"):
        Mpu6050(bus, SensorSettings(address=0x69), fake_clock)


def test_reset_that_never_finishes_times_out_when_polled_against_the_clock(fake_clock):
    chip = EmulatedMpu6050(fake_clock)
    chip.RESET_DURATION_S = 60.0
    start_s = fake_clock.monotonic()
    with pytest.raises(SensorTimeout, match="device reset"):
        Mpu6050(EmulatedI2CBus({0x68: chip}), SensorSettings(), fake_clock)
    assert 0.5 <= fake_clock.monotonic() - start_s < 1.0


class DisturbingBus(EmulatedI2CBus):
    """A bus whose FIFO reads fail with EIO after the bytes already left the chip, once."""

    def __init__(self, devices):
        super().__init__(devices)
        self.disturb = False

    def i2c_rdwr(self, *msgs):
        super().i2c_rdwr(*msgs)
        if self.disturb and len(msgs) == 2 and bytes(msgs[0]) == b"\x74":
            self.disturb = False
            raise OSError(errno.EIO, "Input/output error")


def test_fifo_restarts_with_a_gap_when_a_read_fails_after_data_moved(fake_clock):
    chip = EmulatedMpu6050(fake_clock, motion=TimeCodeMotion())
    bus = DisturbingBus({0x68: chip})
    driver = Mpu6050(bus, SensorSettings(), fake_clock)
    before = run(fake_clock, driver, 1.0, 0.1)
    bus.disturb = True
    after = run(fake_clock, driver, 1.0, 0.1)
    t_chip, aligned = (np.concatenate(x) for x in zip(*(decode_time(b) for b in before + after)))
    assert aligned.all()
    assert 15 <= sum(b.lost_samples for b in after) <= 25


def test_reset_and_configuration_are_really_written_when_the_driver_starts(fake_clock):
    chip, bus, driver = make(fake_clock, settings=SensorSettings(sample_rate_hz=100, accel_range_g=8,
                                                                 gyro_range_dps=500, dlpf_hz=21))
    writes = [(reg, value) for _, reg, value in chip.write_log]
    assert (0x6B, 0x80) in writes                          # DEVICE_RESET
    assert (0x68, 0x07) in writes                          # SIGNAL_PATH_RESET gyro | accel | temp
    assert writes.index((0x6B, 0x80)) < writes.index((0x68, 0x07))
    registers = {reg: bus.read_byte_data(0x68, reg) for reg in (0x19, 0x1A, 0x1B, 0x1C, 0x23, 0x6A, 0x6B)}
    assert registers == {0x19: 9, 0x1A: 0x04, 0x1B: 0x08, 0x1C: 0x10, 0x23: 0x78, 0x6A: 0x40, 0x6B: 0x01}
    assert any(reg == 0x6A and value & 0x04 for reg, value in writes)   # FIFO_RESET before streaming


def test_sample_rate_divides_eight_khz_when_the_dlpf_is_off(fake_clock):
    _, bus, driver = make(fake_clock, settings=SensorSettings(sample_rate_hz=200, dlpf_hz=260))
    assert (bus.read_byte_data(0x68, 0x1A) & 0x07, bus.read_byte_data(0x68, 0x19)) == (0, 39)
    fake_clock.advance(0.1)
    assert len(driver.read()) == 20


def test_temperature_comes_with_each_block_when_read(fake_clock):
    _, _, driver = make(fake_clock, temp_c=31.5)
    fake_clock.advance(0.1)
    assert driver.read().temp_c == pytest.approx(31.5, abs=0.01)


def test_self_test_passes_with_small_changes_when_the_chip_is_healthy(fake_clock):
    _, _, driver = make(fake_clock)
    result = driver.self_test()
    assert result.passed and len(result.axes) == 6
    assert all(abs(a.change_pct) < 1 for a in result.axes)
    assert [a.axis for a in result.axes] == ["accel_x", "accel_y", "accel_z", "gyro_x", "gyro_y", "gyro_z"]


def test_self_test_fails_per_axis_with_the_change_from_factory_trim_when_the_response_is_weak(fake_clock):
    chip, bus, driver = make(fake_clock, self_test_gain=0.5)
    result = driver.self_test()
    assert not result.passed
    assert all(a.change_pct == pytest.approx(-50, abs=1) and not a.passed for a in result.axes)
    assert "FAIL" in str(result) and "14 %" in str(result)
    # the configuration is restored and streaming resumes
    assert bus.read_byte_data(0x68, 0x1C) == 0x18 and bus.read_byte_data(0x68, 0x1B) == 0x18
    fake_clock.advance(0.1)
    block = driver.read()
    assert len(block) == 20 and block.lost_samples > 0


@pytest.mark.parametrize("field, value, allowed", [
    ("accel_range_g", 3, "use 2, 4, 8 or 16"),
    ("gyro_range_dps", 300, "use 250, 500, 1000 or 2000"),
    ("dlpf_hz", 50, "260"),
    ("sample_rate_hz", 300, "whole number"),
    ("sample_rate_hz", 2000, "1000 Hz at most"),
    ("address", 0x70, "0x68"),
    ("axes_map", "x,x,z", "each chip axis"),
])
def test_settings_name_the_field_value_and_what_is_allowed_when_invalid(field, value, allowed):
    with pytest.raises(ValueError) as info:
        SensorSettings(**{field: value})
    assert f"{field} = {value!r}" in str(info.value) and allowed in str(info.value)


def test_axes_map_parses_signs_and_order_when_written_like_klipper():
    assert parse_axes_map(" -z, y ,x") == ((2, 1, 0), (-1.0, 1.0, 1.0))


def test_close_leaves_an_injected_bus_open_when_the_caller_owns_it(fake_clock):
    _, bus, driver = make(fake_clock)
    driver.close()
    driver.close()
    assert not bus.closed and bus.read_byte_data(0x68, 0x75) == 0x68


@pytest.mark.parametrize("seed", range(8))
def test_data_is_never_wrong_when_faults_of_every_kind_are_mixed(fake_clock, seed):
    """NACKs at a high rate, forced overflows, a freeze and irregular (sometimes far too late) polls: only
    typed errors come out, every frame that comes out is whole and in order, and every sample the chip made
    is either delivered or counted as lost."""
    rng = np.random.default_rng(seed)
    faults = FaultPlan(nack_rate=0.3, overflow_at_s=sorted(rng.uniform(1, 30, 3)),
                       freeze_windows_s=[(float(s), float(s) + 1.5) for s in rng.uniform(5, 25, 1)], seed=seed)
    chip = EmulatedMpu6050(fake_clock, motion=TimeCodeMotion(), faults=faults)
    bus = EmulatedI2CBus({0x68: chip})
    driver = None
    while driver is None:
        try:
            driver = Mpu6050(bus, SensorSettings(), fake_clock)
        except (SensorNotFound, SensorBusError):
            fake_clock.advance(0.1)
    blocks, errors = [], 0
    while chip.now_s() < 32.0:
        fake_clock.advance(float(rng.choice([0.02, 0.1, 0.3, 0.9])))
        try:
            blocks.append(driver.read())
        except SensorBusError:
            errors += 1
    t_chip, aligned = (np.concatenate(x) for x in zip(*(decode_time(b) for b in blocks)))
    assert aligned.all()
    steps = np.diff(t_chip) / 0.005
    assert np.all(steps > 0.95)                                        # never repeated or reordered
    assert np.all(np.isclose(steps, np.rint(steps), atol=0.05))         # always whole samples apart
    # Each gap in the stream is announced, about right, on the block after it (a frozen chip's silence too).
    delivered = [b for b in blocks if len(b)]
    for previous, block in zip(delivered, delivered[1:]):
        gap = int(np.rint((decode_time(block)[0][0] - decode_time(previous)[0][-1]) / 0.005)) - 1
        assert abs(block.lost_samples - gap) <= 2
    assert np.all(np.diff(np.concatenate([b.t_s for b in blocks])) > 0)
    assert driver.retries > 0 and driver.overflows >= 3


def test_opening_a_missing_bus_says_how_to_enable_i2c_when_the_device_node_is_absent(fake_clock):
    with pytest.raises(SensorNotFound, match="raspi-config"):
        Mpu6050.open(SensorSettings(bus=99), fake_clock)

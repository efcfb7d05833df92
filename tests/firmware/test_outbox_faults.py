"""The outbox never takes the daemon down: any storage error falls back to memory, says so, and recovers.

These tests make the errors with real files (a removed directory, a directory where the database should be,
SQLite's own size cap). Read-only remounts and full tmpfs mounts are in tests/integration/test_fault_injection.py
(they need root); one test here stands in for a refused delete by closing the connection under the outbox,
and says so.
"""
from __future__ import annotations

import json
import os
import shutil

from firmware_py.events import FALL, HELP_NEEDED, STUMBLE, Event
from firmware_py.transport.outbox import Outbox, storage_fix


def event(kind: str = STUMBLE, n: int = 0) -> Event:
    return Event(kind, t_onset_s=10.0 + n, t_detect_s=10.2 + n, features={"n": n}, wall_time=1.7e9 + n)


def ids(rows):
    return [json.loads(r.payload)["id"] for r in rows]


def test_a_missing_state_directory_is_created_when_the_outbox_opens(tmp_path, fake_clock):
    box = Outbox(tmp_path / "missing" / "o.sqlite3", fake_clock)
    assert box.put(event(), "w") > 0 and not box.is_degraded
    box.close()


def test_an_unopenable_database_runs_from_memory_then_moves_rows_to_disk_when_it_opens(tmp_path, fake_clock):
    path = tmp_path / "state" / "o.sqlite3"
    path.mkdir(parents=True)  # a directory where the file should be: SQLite cannot open it
    box = Outbox(path, fake_clock, retry_interval_s=1.0)
    assert box.is_degraded
    [lost] = box.take_notices()
    assert lost["state"] == "lost" and "opening failed" in lost["error"] and lost["fix"]
    fall, help_ = event(FALL, 1), event(HELP_NEEDED, 2)
    assert box.put(fall, "w") < 0 and box.put(help_, "w") < 0
    assert ids(box.pending(10)) == [fall.id, help_.id]  # still published from memory
    path.rmdir()
    fake_clock.advance(1.0)
    box.tick()
    [recovered] = box.take_notices()
    assert recovered == {"state": "recovered", "path": str(path.parent), "moved_to_disk": 2}
    rows = box.pending(10)
    assert ids(rows) == [fall.id, help_.id] and all(r.row_id > 0 for r in rows)
    box.close()
    assert ids(Outbox(path, fake_clock).pending(10)) == [fall.id, help_.id]


def test_retries_back_off_on_the_clock_while_the_disk_keeps_refusing(tmp_path, fake_clock):
    path = tmp_path / "o.sqlite3"
    path.mkdir()
    box = Outbox(path, fake_clock, retry_interval_s=1.0, retry_max_s=4.0)
    box.take_notices()
    waits = []
    for _ in range(5):
        start = fake_clock.monotonic()
        while box._storage.next_retry_s > fake_clock.monotonic():
            fake_clock.advance(0.5)
        box.tick()
        waits.append(fake_clock.monotonic() - start)
    assert waits == [1.0, 2.0, 4.0, 4.0, 4.0]
    assert box.take_notices() == []  # one 'lost', not one per retry


def test_a_state_directory_removed_while_running_is_recreated_with_every_row(tmp_path, fake_clock):
    state = tmp_path / "state"
    box = Outbox(state / "o.sqlite3", fake_clock)
    before = [event(FALL, 1), event(STUMBLE, 2)]
    first = [box.put(e, "w") for e in before]
    shutil.rmtree(state)
    fake_clock.advance(1.0)
    box.tick()
    notices = box.take_notices()
    assert [n["state"] for n in notices] == ["lost", "recovered"]
    assert "removed while running" in notices[0]["error"]
    assert notices[1]["moved_to_disk"] == 2
    after = event(HELP_NEEDED, 3)
    new_id = box.put(after, "w")
    assert new_id > max(first), "row ids must never be reused, or a late ack could delete the wrong row"
    assert ids(box.pending(10)) == [e.id for e in before] + [after.id]
    assert (state / "o.sqlite3").is_file()
    box.close()


def test_a_refused_delete_never_raises_and_is_applied_when_the_disk_works(tmp_path, fake_clock, caplog):
    # stand-in: the connection is closed under the outbox, so SQLite refuses the DELETE (a real read-only
    # remount is in tests/integration/test_fault_injection.py)
    box = Outbox(tmp_path / "o.sqlite3", fake_clock, retry_interval_s=1.0)
    events = [event(STUMBLE, i) for i in range(3)]
    rows = [box.put(e, "w") for e in events]
    box._storage.file.db.close()
    box.mark_delivered(rows[:2])  # must not raise
    assert box.is_degraded and box.depth() == 1
    fall = event(FALL, 9)
    assert box.put(fall, "w") < 0
    fake_clock.advance(1.0)
    box.tick()
    assert [n["state"] for n in box.take_notices()] == ["lost", "recovered"]
    assert ids(box.pending(10)) == [events[2].id, fall.id]  # the two delivered rows are gone from disk
    assert box.pending(10)[0].row_id == rows[2] and box.depth() == 2


def test_the_wal_file_stays_bounded_when_every_event_is_delivered(tmp_path, fake_clock):
    path = tmp_path / "o.sqlite3"
    box = Outbox(path, fake_clock, wal_limit_bytes=64 * 1024)
    largest = 0
    for i in range(1500):  # the broker is up: each event is put, published, acknowledged
        row = box.put(event(STUMBLE, i), "w")
        box.mark_delivered([row])
        largest = max(largest, os.path.getsize(f"{path}-wal"))
    assert largest <= 64 * 1024 + 3 * 4096 * 2, f"-wal reached {largest} bytes"
    assert os.path.getsize(path) < 64 * 1024
    box.close()


def test_the_fix_named_matches_the_storage_error():
    assert "free space" in storage_fix("database or disk is full")
    assert "read-only" in storage_fix("attempt to write a readonly database")
    assert "dmesg" in storage_fix("disk I/O error")
    assert "state_dir" in storage_fix("unable to open database file")


def test_a_256_kib_state_dir_never_fills_when_the_broker_is_up(tmp_path, fake_clock):
    # the trial: a 256 KiB state dir was full after ~3 minutes because the -wal file never shrank
    import subprocess

    import pytest

    if os.geteuid() != 0:
        pytest.skip("needs root to mount a 256 KiB tmpfs")
    state = tmp_path / "small"
    state.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(state)]).returncode != 0:
        pytest.skip("mount -t tmpfs failed here")
    try:
        box = Outbox(state / "o.sqlite3", fake_clock)
        for i in range(3000):  # ~8 hours of a busy walker's events at one per 10 s
            box.mark_delivered([box.put(event(STUMBLE, i), "w")])
            assert not box.is_degraded, box.last_error
        used = sum(p.stat().st_size for p in state.iterdir())
        print(f"outbox files after 3000 events: {used} bytes")
        assert used <= 160 * 1024, f"the outbox's files take {used} bytes"
        box.close()
    finally:
        subprocess.run(["umount", "-l", str(state)])


def test_rows_on_a_full_disk_survive_when_the_state_dir_is_removed_to_free_space(tmp_path, fake_clock):
    state = tmp_path / "state"
    box = Outbox(state / "o.sqlite3", fake_clock, max_db_bytes=64 * 1024, retry_interval_s=1.0)
    put = []
    for i in range(200):
        e = Event(STUMBLE, 1.0, 1.1, {"pad": "x" * 2000, "n": i})
        put.append((box.put(e, "w"), e.id))
        if put[-1][0] < 0:
            break
    fall = event(FALL, 7)
    box.put(fall, "w")
    assert box.is_degraded and any(row_id > 0 for row_id, _ in put)
    shutil.rmtree(state)  # an admin frees the card by removing the state dir
    fake_clock.advance(1.0)
    box.tick()
    rows = box.pending(1000)
    rescued = [eid for row_id, eid in put if row_id > 0]
    assert ids(rows)[:len(rescued)] == rescued, "rows of the removed file were lost"
    # the 64 KiB cap applies to the new file too: the fall goes on disk, after the rows older than it; the
    # stumble that was only in memory found no room there and was dropped (counted), not let overtake it
    assert ids(rows) == rescued + [fall.id] and box.dropped_events == 1
    assert not box.is_degraded and box.held_in_memory == 0
    box.close()


def test_a_read_only_state_dir_stands_in_for_a_read_only_mount_when_not_root(tmp_path, fake_clock):
    # stand-in for tests/integration/test_fault_injection.py's read-only mount, which needs root; as root a
    # directory's permissions do not stop writes, so this one only runs for other users
    import pytest

    if os.geteuid() == 0:
        pytest.skip("as root, permissions do not make a directory read-only (the mount trials cover it)")
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(0o500)
    try:
        box = Outbox(state / "o.sqlite3", fake_clock, retry_interval_s=1.0)
        [lost] = box.take_notices()
        assert lost["state"] == "lost" and box.put(event(FALL, 1), "w") < 0
    finally:
        state.chmod(0o700)
    fake_clock.advance(1.0)
    box.tick()
    assert [n["state"] for n in box.take_notices()] == ["recovered"]
    assert all(r.row_id > 0 for r in box.pending(10))
    box.close()


def test_the_fall_reaches_a_full_card_that_frees_room_for_only_some_of_the_held_rows(tmp_path, fake_clock):
    # review F2: the broker is down, telemetry piles up in memory behind a full card, a fall and help_needed
    # join it; then a little room comes back (a log file rotated away). Everything at once does not fit, so
    # moving everything in one transaction kept the fall in memory for good (a power cut would lose it).
    import sqlite3
    import subprocess

    import pytest

    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs (the max_db_bytes cap is no full card: the -wal file "
                    "is not held to it)")
    state = tmp_path / "small"
    state.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(state)]).returncode != 0:
        pytest.skip("mount -t tmpfs failed here")
    try:
        path = state / "o.sqlite3"
        box = Outbox(path, fake_clock, retry_interval_s=1.0, retry_max_s=4.0)
        before = [event(STUMBLE, i) for i in range(3)]
        assert all(box.put(e, "w") > 0 for e in before)
        filler = state / "other.log"
        with open(filler, "wb", buffering=0) as f:  # unbuffered: the ENOSPC comes here, not at close
            with pytest.raises(OSError):
                while True:
                    f.write(b"\0" * 4096)
        for n in range(60):  # 10 minutes of telemetry held
            box.put_telemetry({"n": n, "pad": "y" * 300})
        assert box.is_degraded, "the card should be full by now"
        fall, help_ = event(FALL, 50), event(HELP_NEEDED, 51)
        assert box.put(fall, "w") < 0 and box.put(help_, "w") < 0
        for n in range(60, 120):  # and 10 more minutes
            box.put_telemetry({"n": n, "pad": "y" * 300})
        os.truncate(filler, os.path.getsize(filler) - 40 * 1024)  # room for some held rows, not all of them
        for _ in range(6):
            fake_clock.advance(4.0)
            box.tick()

        with sqlite3.connect(path) as other:  # what a power cut now would leave: committed rows only
            on_card = [r[0] for r in other.execute("SELECT event_id FROM outbox ORDER BY row_id")]
        assert fall.id in on_card and help_.id in on_card, "the fall is still in memory only"
        assert not box.is_degraded
        assert [n["state"] for n in box.take_notices()] == ["lost", "recovered"]
        put = [e.id for e in before] + [f"t{n}" for n in range(60)] + [fall.id, help_.id] + \
            [f"t{n}" for n in range(60, 120)]
        sent = [json.loads(r.payload).get("id") or f"t{json.loads(r.payload)['n']}" for r in box.pending(1000)]
        assert sent == [k for k in put if k in sent], "delivery order changed"
        missing = [k for k in put if k not in sent]
        assert missing == [f"t{n}" for n in range(60) if f"t{n}" in missing], "only older telemetry may go"
        assert len(missing) == box.dropped_telemetry > 0  # no room before the fall: dropped, and counted
        assert box.held_in_memory > 0, "the test should leave newer rows waiting in memory for room"
        box.close()
    finally:
        subprocess.run(["umount", "-l", str(state)])


def test_held_alarms_go_to_a_half_full_disk_first_without_overtaking_older_events(tmp_path, fake_clock):
    # SQLite's size cap stands in for the card here (the tmpfs test above is the real one, as root)
    from firmware_py.events import RECOVERED

    box = Outbox(tmp_path / "o.sqlite3", fake_clock, max_db_bytes=64 * 1024, retry_interval_s=1.0,
                 retry_max_s=4.0)
    on_disk = []
    while not box.is_degraded:
        e = Event(STUMBLE, 1.0, 1.1, {"pad": "x" * 1500})
        on_disk.append((box.put(e, "w"), e.id))
    on_disk.pop()  # the one that found the disk full is held
    recovered, fall = event(RECOVERED, 1), event(FALL, 2)
    box.put(recovered, "w")
    for n in range(150):
        box.put_telemetry({"n": n, "pad": "y" * 300})
    box.put(fall, "w")
    for n in range(150, 190):
        box.put_telemetry({"n": n, "pad": "y" * 300})
    box.mark_delivered([row_id for row_id, _ in on_disk[:10]])  # room for about ten rows comes back
    fake_clock.advance(1.0)
    box.tick()
    assert not box.is_degraded and box.held_in_memory > 0  # the newer telemetry waits for room
    rows = box.pending(1000)
    events = [r for r in rows if r.kind == "event"]
    assert ids(events)[-2:] == [recovered.id, fall.id], "the fall overtook the older recovered"
    assert events[-1].row_id > 0 and events[-2].row_id > 0
    assert box.dropped_telemetry > 0  # older telemetry with no room went, counted
    later = event(STUMBLE, 3)
    assert box.put(later, "w") < 0  # queued behind the rows waiting for room, not ahead of them
    box.mark_delivered([row_id for row_id, _ in on_disk[10:]])  # the broker takes the old stumbles: room
    help_ = event(HELP_NEEDED, 4)
    assert box.put(help_, "w") > 0 and box.held_in_memory == 0
    rows = box.pending(1000)
    assert ids([r for r in rows if r.kind == "event"])[-4:] == [recovered.id, fall.id, later.id, help_.id]
    telemetry = [json.loads(r.payload)["n"] for r in rows if r.kind == "telemetry"]
    assert telemetry == sorted(telemetry) and telemetry[-40:] == list(range(150, 190))
    assert rows[-2].event_id == later.id and all(r.row_id > 0 for r in rows)  # after the telemetry held before it
    box.close()

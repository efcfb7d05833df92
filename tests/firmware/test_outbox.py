"""The outbox keeps events across restarts, in order, bounded, and never drops a fall."""
from __future__ import annotations

import json
import pytest

from firmware_py.events import CANCELLED, FALL, HELP_NEEDED, LOSS_OF_BALANCE, SOS, STUMBLE, Event
from firmware_py.transport.outbox import EVENT, Outbox


def event(kind: str = STUMBLE, n: int = 0) -> Event:
    return Event(kind, t_onset_s=10.0 + n, t_detect_s=10.2 + n, features={"n": n}, wall_time=1.7e9 + n)


def test_events_come_back_in_order_with_their_json_when_pending(tmp_path, fake_clock):
    box = Outbox(tmp_path / "o.sqlite3", fake_clock)
    events = [event(STUMBLE, i) for i in range(5)]
    ids = [box.put(e, "walker-1") for e in events]
    rows = box.pending(10)
    assert [r.row_id for r in rows] == ids
    assert [json.loads(r.payload)["id"] for r in rows] == [e.id for e in events]
    assert rows[0].payload == events[0].to_json("walker-1")
    assert box.depth() == 5


def test_only_acknowledged_rows_disappear_when_marked_delivered(tmp_path, fake_clock):
    box = Outbox(tmp_path / "o.sqlite3", fake_clock)
    ids = [box.put(event(STUMBLE, i), "w") for i in range(4)]
    box.mark_delivered([ids[0], ids[2], 999999])
    assert [r.row_id for r in box.pending(10)] == [ids[1], ids[3]]
    assert box.depth() == 2


def test_pending_skips_rows_already_handed_out_when_after_row_id_given(tmp_path, fake_clock):
    box = Outbox(tmp_path / "o.sqlite3", fake_clock)
    ids = [box.put(event(STUMBLE, i), "w") for i in range(5)]
    assert [r.row_id for r in box.pending(2, after_row_id=ids[1])] == ids[2:4]


def test_stored_events_survive_a_reopen_when_the_process_dies_without_close(tmp_path, fake_clock):
    path = tmp_path / "o.sqlite3"
    box = Outbox(path, fake_clock)
    events = [event(FALL, i) for i in range(3)]
    for e in events:
        box.put(e, "w")
    # no close(): what a SIGKILL leaves behind (the WAL holds the committed rows)
    reopened = Outbox(path, fake_clock)
    assert [json.loads(r.payload)["id"] for r in reopened.pending(10)] == [e.id for e in events]
    box.close()
    reopened.close()


def test_database_is_in_wal_mode_with_full_sync_when_opened(tmp_path, fake_clock):
    box = Outbox(tmp_path / "o.sqlite3", fake_clock)
    db = box._storage.file.db  # synchronous is a setting of the connection: only the outbox's own can tell
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_row_ids_are_never_reused_when_the_newest_row_was_delivered(tmp_path, fake_clock):
    # a late PUBACK for a delivered row must never delete a newer row that got the same id
    box = Outbox(tmp_path / "o.sqlite3", fake_clock)
    first = box.put(event(), "w")
    box.mark_delivered([first])
    assert box.put(event(), "w") > first


def test_telemetry_is_dropped_first_when_the_outbox_is_full(tmp_path, fake_clock):
    box = Outbox(tmp_path / "o.sqlite3", fake_clock, max_rows=4)
    box.put_telemetry({"tilt_deg": 1})
    box.put(event(STUMBLE, 1), "w")
    box.put_telemetry({"tilt_deg": 2})
    box.put(event(STUMBLE, 2), "w")
    box.put(event(STUMBLE, 3), "w")
    box.put(event(STUMBLE, 4), "w")
    kinds = [r.kind for r in box.pending(10)]
    assert kinds == [EVENT] * 4
    assert box.dropped_telemetry == 2 and box.dropped_events == 0


def test_new_telemetry_is_dropped_rather_than_an_event_when_full_of_events(tmp_path, fake_clock):
    box = Outbox(tmp_path / "o.sqlite3", fake_clock, max_rows=2)
    box.put(event(STUMBLE, 1), "w")
    box.put(event(STUMBLE, 2), "w")
    assert box.put_telemetry({"tilt_deg": 3}) is None
    assert [r.kind for r in box.pending(10)] == [EVENT, EVENT]


def test_oldest_non_fall_event_goes_when_full_and_no_telemetry_is_left(tmp_path, fake_clock):
    box = Outbox(tmp_path / "o.sqlite3", fake_clock, max_rows=3)
    old_stumble = event(STUMBLE, 1)
    fall = event(FALL, 2)
    newer_stumble = event(STUMBLE, 3)
    for e in (old_stumble, fall, newer_stumble, event(STUMBLE, 4)):
        box.put(e, "w")
    ids = [r.event_id for r in box.pending(10)]
    assert old_stumble.id not in ids
    assert fall.id in ids and newer_stumble.id in ids
    assert box.dropped_events == 1


def test_fall_class_events_are_all_kept_when_far_past_the_bound(tmp_path, fake_clock):
    box = Outbox(tmp_path / "o.sqlite3", fake_clock, max_rows=3)
    falls = [event(kind, i) for i, kind in enumerate([FALL, LOSS_OF_BALANCE, HELP_NEEDED, SOS, FALL, FALL])]
    box.put(event(STUMBLE, 99), "w")
    for e in falls:
        box.put(e, "w")
    box.put(event(STUMBLE, 100), "w")  # a non-fall event arriving when only falls remain is the one dropped
    assert [r.event_id for r in box.pending(20)] == [e.id for e in falls]
    assert box.depth() == len(falls)


def test_the_wearers_cancel_is_kept_with_its_fall_when_the_outbox_is_full(tmp_path, fake_clock):
    # a carer told of a fall must also be told that the wearer pressed "I'm OK"
    box = Outbox(tmp_path / "o.sqlite3", fake_clock, max_rows=2)
    fall, cancel = event(FALL, 1), event(CANCELLED, 2)
    for e in (fall, cancel, event(STUMBLE, 3), event(STUMBLE, 4)):
        box.put(e, "w")
    ids = [r.event_id for r in box.pending(10)]
    assert fall.id in ids and cancel.id in ids


def test_bound_and_drop_policy_hold_across_a_reopen(tmp_path, fake_clock):
    path = tmp_path / "o.sqlite3"
    box = Outbox(path, fake_clock, max_rows=2)
    fall = event(FALL, 1)
    box.put(fall, "w")
    box.put(event(STUMBLE, 2), "w")
    box.close()
    box = Outbox(path, fake_clock, max_rows=2)
    box.put(event(STUMBLE, 3), "w")
    assert box.depth() == 2
    assert box.pending(10)[0].event_id == fall.id


def test_a_full_disk_keeps_events_in_memory_and_stores_them_when_space_returns(tmp_path, fake_clock, caplog):
    box = Outbox(tmp_path / "o.sqlite3", fake_clock, max_db_bytes=64 * 1024, retry_interval_s=1.0)
    stored = []
    big = "x" * 2000
    for i in range(200):  # fill the 64 KiB cap
        e = Event(STUMBLE, 1.0, 1.1, {"pad": big, "n": i})
        row_id = box.put(e, "w")
        stored.append((row_id, e.id))
        if row_id < 0:
            break
    assert stored[-1][0] < 0, "the size cap was never reached"
    assert "full" in box.last_error and "in memory" in box.last_error
    fall = event(FALL, 7)
    assert box.put(fall, "w") < 0  # order is kept: nothing overtakes rows waiting for disk space
    # everything put so far is still pending, the held rows last and in order
    assert [r.event_id for r in box.pending(1000)] == [eid for _, eid in stored] + [fall.id]

    box.mark_delivered([rid for rid, _ in stored[:len(stored) // 2]])  # deliveries free pages
    fake_clock.advance(1.0)
    rows = box.pending(1000)
    assert [r.event_id for r in rows][-2:] == [stored[-1][1], fall.id]
    assert all(r.row_id > 0 for r in rows)
    assert box.last_error is None


def test_max_rows_below_one_is_refused_with_the_value(tmp_path, fake_clock):
    with pytest.raises(ValueError, match="max_rows = 0"):
        Outbox(tmp_path / "o.sqlite3", fake_clock, max_rows=0)


# the schema of the version before the column was renamed, as that version wrote it
OLD_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    row_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT    NOT NULL,
    event_id   TEXT,
    event_type TEXT,
    fall_class INTEGER NOT NULL DEFAULT 0,
    payload    TEXT    NOT NULL
);
"""


def test_an_outbox_file_of_the_previous_version_opens_with_its_rows_and_its_alarms_kept_first(tmp_path,
                                                                                             fake_clock):
    import sqlite3

    path = tmp_path / "outbox.db"
    fall, stumble = event(FALL, 1), event(STUMBLE, 2)
    with sqlite3.connect(path) as old:
        old.execute("PRAGMA journal_mode=WAL")
        old.executescript(OLD_SCHEMA)
        for e in (fall, stumble):
            old.execute("INSERT INTO outbox (kind, event_id, event_type, fall_class, payload) VALUES (?, ?, ?, ?, ?)",
                        (EVENT, e.id, e.type, int(e.type == FALL), e.to_json("w")))
    old.close()
    box = Outbox(path, fake_clock, max_rows=2)
    assert not box.is_degraded
    assert [r.event_id for r in box.pending(10)] == [fall.id, stumble.id]
    newer = event(STUMBLE, 3)
    assert box.put(newer, "w") > 2  # the old file's ids are not reused
    # full: the old stumble went, the old fall is still kept first
    assert [r.event_id for r in box.pending(10)] == [fall.id, newer.id]
    box.close()
    assert Outbox(path, fake_clock).depth() == 2  # and it opens again, already up to date


@pytest.mark.parametrize("seed", range(5))
def test_the_disk_and_memory_drop_the_same_rows_when_given_the_same_puts_past_the_bound(tmp_path, fake_clock,
                                                                                       seed):
    import random

    on_disk = Outbox(tmp_path / "o.sqlite3", fake_clock, max_rows=4)
    refused = tmp_path / "refused.sqlite3"
    refused.mkdir()  # no database opens here: every row is held in memory (the clock never retries)
    in_memory = Outbox(refused, fake_clock, max_rows=4)
    assert in_memory.is_degraded
    rng = random.Random(seed)
    for n in range(30):
        e = event(rng.choice([STUMBLE, STUMBLE, STUMBLE, FALL, CANCELLED, LOSS_OF_BALANCE]), n)
        for box in (on_disk, in_memory):
            if n % 3 == 0:
                box.put_telemetry({"n": n})
            else:
                box.put(e, "w")
        assert [r.payload for r in on_disk.pending(100)] == [r.payload for r in in_memory.pending(100)], n
    assert len(on_disk.pending(100)) > 4  # the rows kept first went past the bound in both
    assert (on_disk.dropped_telemetry, on_disk.dropped_events) == (in_memory.dropped_telemetry,
                                                                   in_memory.dropped_events)

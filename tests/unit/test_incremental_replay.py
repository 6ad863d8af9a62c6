"""Replay in pieces into one database equals one replay of everything (real chDB).

The data set is the generated multi-tenant scenario (tests/scenario.py): three tenants,
a partnership narrowed later (globex's PROSPECTs from ACCOUNTS to COUNTS only), one ended
and restarted, deleted accounts and deals, out-of-order versions and duplicates.
"""

from __future__ import annotations

import json
import random
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.textformat import write_jsonl
from sinks.clickhouse import ClickHouseWriter, views_snapshot
from sinks.exceptions import ReplayBusyError
from sinks.replay_store import FAILED, FINISHED, RUNNING, WITHDRAWN, ReplayStore
from sinks.tables import CURRENT_STATE_VIEWS, VIEWS
from streams import replay as replay_module
from streams.cli import main
from streams.core.attribution import AttributionConfig
from streams.core.eventlog import event_log_entry
from streams.exceptions import ReplayRefusedError
from streams.incremental_replay import CONTINUE, FRESH, REBUILD, IncrementalReplay
from streams.replay import event_time_order, replay_events
from tests.factories import account, partnership, tenant_settings
from tests.scenario import scenario

EVENTS = scenario(companies=30)  # once: event ids come from a global counter
SMALL = scenario(companies=8, seed=3)
ATTRIBUTION = AttributionConfig()

#: crm_events columns compared: all but ingest_time, the time the pipeline received the
#: event (each piece is received at its own time; a rebuild keeps the first one).
CRM_EVENTS_COMPARED = "SELECT * EXCEPT ingest_time FROM crm_events FINAL"
#: The result tables themselves, but for written_at (when the row was inserted). Versions
#: are compared too: continuing runs carry each company's version counter on, and a
#: rebuild starts from 1 like a replay of everything does.
RESULT_TABLES_COMPARED = {
    "overlap_state": "SELECT * EXCEPT written_at FROM overlap_state FINAL",
    "intro_state": "SELECT * EXCEPT written_at FROM intro_state FINAL",
    "attribution_state": "SELECT * EXCEPT written_at FROM attribution_state FINAL",
    "intro_events": "SELECT * FROM intro_events FINAL",
}


def replay_pieces(folder: Path, pieces, *, stale_after: float = 600.0,
                  attributions=None) -> list[str]:
    """Replay each piece (sorted by event time, as the command does) in turn; the modes.

    ``attributions``: the attribution settings of each piece (default: ATTRIBUTION).
    """
    writer = ClickHouseWriter(f"chdb://{folder}")
    try:
        writer.migrate(ttl_days=0)
        modes = []
        for piece, attribution in zip(pieces, attributions or [ATTRIBUTION] * len(pieces),
                                      strict=True):
            with IncrementalReplay(writer, attribution=attribution,
                                   stale_after=stale_after) as run:
                modes.append(run.plan(sorted(piece, key=event_time_order)).mode)
                run.run()
        return modes
    finally:
        writer.close()


def snapshot(folder: Path, views=VIEWS) -> dict[str, list[tuple]]:
    """Every view, crm_events and the result tables, sorted (see the column notes above)."""
    writer = ClickHouseWriter(f"chdb://{folder}")
    try:
        found = views_snapshot(writer, views)
        found["crm_events"] = sorted(writer.query(CRM_EVENTS_COMPARED))
        for table, sql in RESULT_TABLES_COMPARED.items():
            found[table] = sorted(writer.query(sql))
        return found
    finally:
        writer.close()


def assert_same(actual: dict[str, list[tuple]], expected: dict[str, list[tuple]]) -> None:
    assert actual.keys() == expected.keys()
    for name in expected:
        assert expected[name], f"the data set must fill {name}"
        assert actual[name] == expected[name], f"{name} differs from one replay of everything"


@pytest.fixture(scope="module")
def whole(tmp_path_factory) -> dict[str, list[tuple]]:
    folder = tmp_path_factory.mktemp("whole") / "chdb"
    assert replay_pieces(folder, [EVENTS]) == [FRESH]
    found = snapshot(folder)
    # The data set holds what the test is about: a partnership narrowed to counts only
    # (so some active overlaps are counted, not shown), and deletes.
    assert any(row[4] for row in found["overlap_counts"]), "no counts-only overlaps"
    assert any(row[5] == "DELETE" for row in found["crm_events"])
    return found


def cut(events, points):
    bounds = [0, *points, len(events)]
    return [events[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


def test_pieces_cut_by_event_time_continue_and_equal_one_replay(whole, tmp_path):
    ordered = sorted(EVENTS, key=event_time_order)
    times = sorted({event_time_order(e)[0] for e in ordered})
    edges = [times[len(times) * k // 4] for k in (1, 2, 3)]
    pieces = [[e for e in ordered if lo <= event_time_order(e)[0] < hi]
              for lo, hi in zip([times[0], *edges], [*edges, times[-1] + (times[-1] - times[0])],
                                strict=True)]
    assert all(pieces) and sum(map(len, pieces)) == len(EVENTS)
    assert replay_pieces(tmp_path / "chdb", pieces) == [FRESH, CONTINUE, CONTINUE, CONTINUE]
    assert_same(snapshot(tmp_path / "chdb"), whole)


def test_pieces_cut_in_delivery_order_rebuild_and_equal_one_replay(whole, tmp_path):
    n = len(EVENTS)
    pieces = cut(EVENTS, [n // 4, n // 2, 3 * n // 4])
    modes = replay_pieces(tmp_path / "chdb", pieces)
    assert modes == [FRESH, REBUILD, REBUILD, REBUILD]
    assert_same(snapshot(tmp_path / "chdb"), whole)
    # Events read back for a rebuild keep the time the pipeline first received them.
    writer = ClickHouseWriter(f"chdb://{tmp_path / 'chdb'}")
    try:
        (first_run,), = writer.query(
            "SELECT count() FROM crm_events FINAL "
            "WHERE ingest_time = (SELECT min(ingest_time) FROM crm_events)")
    finally:
        writer.close()
    assert first_run == len({(r["tenant_id"], t, r["record_id"], r["version"], r["event_id"])
                             for t, r in pieces[0]})


def test_replaying_the_same_file_again_changes_nothing(whole, tmp_path):
    assert replay_pieces(tmp_path / "chdb", [EVENTS, EVENTS]) == [FRESH, CONTINUE]
    assert_same(snapshot(tmp_path / "chdb"), whole)


@pytest.fixture(scope="module")
def whole_small(tmp_path_factory) -> dict[str, list[tuple]]:
    folder = tmp_path_factory.mktemp("whole-small") / "chdb"
    replay_pieces(folder, [SMALL])
    return snapshot(folder)


@settings(max_examples=4, deadline=None)
@given(cuts=st.lists(st.integers(1, len(SMALL) - 1), min_size=1, max_size=3, unique=True),
       by_time=st.booleans())
def test_any_cut_points_give_one_replay(whole_small, tmp_path_factory, cuts, by_time):
    events = sorted(SMALL, key=event_time_order) if by_time else SMALL
    folder = tmp_path_factory.mktemp("cut") / "chdb"
    replay_pieces(folder, cut(events, sorted(cuts)))
    assert snapshot(folder) == whole_small


GLOBEX_CUSTOMERS_NAMED = {("acme", "CUSTOMER"): "FULL", ("globex", "CUSTOMER"): "FULL"}
GLOBEX_CUSTOMERS_COUNTED = {("acme", "CUSTOMER"): "FULL", ("globex", "CUSTOMER"): "COUNTS"}


def test_a_later_file_narrows_a_partnership_and_finds_overlaps_with_the_earlier_one(tmp_path):
    first = [partnership("p1", "acme", "globex", GLOBEX_CUSTOMERS_NAMED, day=0),
             account("acme", "a1", domain="company1.com", name="Acme's One", day=1),
             account("globex", "g1", domain="company1.com", name="Globex's One", day=1),
             account("acme", "a2", domain="company2.com", name="Acme's Two", day=1)]
    second = [account("globex", "g2", domain="company2.com", name="Globex's Two", day=5),
              partnership("p1", "acme", "globex", GLOBEX_CUSTOMERS_COUNTED, version=2, day=6)]
    folder = tmp_path / "chdb"
    assert replay_pieces(folder, [first]) == [FRESH]
    shown = snapshot(folder)["overlaps_current"]
    assert ("acme", "globex", "Globex's One") in {(r[0], r[1], r[7]) for r in shown}
    assert replay_pieces(folder, [second]) == [CONTINUE]
    found = snapshot(folder)
    # acme no longer sees globex's account names, only their number (both companies,
    # one of them known only from the second file); globex still sees acme's.
    assert {(r[0], r[1], r[2], r[7]) for r in found["overlaps_current"]} == {
        ("globex", "acme", "company1.com", "Acme's One"),
        ("globex", "acme", "company2.com", "Acme's Two")}
    assert ("acme", "globex", 2, 0, 2) in found["overlap_counts"]


def halves_in_files(folder: Path, events) -> list[Path]:
    """The events in event-time order, cut in two JSON Lines files."""
    ordered = sorted(events, key=event_time_order)
    files = []
    for i, piece in enumerate(cut(ordered, [len(ordered) // 2])):
        files.append(folder / f"part{i}.jsonl")
        with files[-1].open("w") as f:
            write_jsonl(f, piece)
    return files


def test_the_command_reports_what_the_database_holds_after_each_file(whole, tmp_path, capsys,
                                                                      monkeypatch):
    monkeypatch.chdir(tmp_path)
    files = halves_in_files(tmp_path, EVENTS)
    dsn = f"chdb://{tmp_path / 'chdb'}"
    assert main(["replay", str(files[0]), "--clickhouse", dsn]) == 0
    assert "fresh: the database holds no results yet" in capsys.readouterr().out
    assert main(["replay", str(files[1]), "--clickhouse", dsn]) == 0
    out = capsys.readouterr().out
    overlaps = sum(row[2] for row in whole["overlap_counts"])
    visible = sum(row[3] for row in whole["overlap_counts"])
    assert "continue: continuing from the replay started" in out
    assert (f"the database now holds: {len(whole['crm_events'])} events in crm_events, "
            f"{overlaps} overlaps ({visible} visible), {len(whole['intros_current'])} intros, "
            f"{len(whole['attributions_current'])} attributions") in out


def test_a_database_fed_by_something_else_is_refused(tmp_path):
    writer = ClickHouseWriter(f"chdb://{tmp_path / 'chdb'}")
    try:
        writer.migrate(ttl_days=0)
        replay_events(sorted(SMALL, key=event_time_order), writer)  # no saved state
        with pytest.raises(ReplayRefusedError, match="rows no finished replay wrote"), \
                IncrementalReplay(writer, attribution=ATTRIBUTION, stale_after=600) as run:
            run.plan([])
    finally:
        writer.close()


def test_rows_written_after_a_replay_by_anything_else_are_refused(tmp_path):
    folder = tmp_path / "chdb"
    replay_pieces(folder, [SMALL])
    writer = ClickHouseWriter(f"chdb://{folder}")
    try:
        event_type, record = account("acme", "streamed", domain="elsewhere.com", day=3)
        time.sleep(0.01)  # a later ingest time than the replay's
        writer.write([event_log_entry(event_type, record, int(time.time() * 1000))])
        with pytest.raises(ReplayRefusedError, match="crm_events changed since the last "
                                                     "replay"), \
                IncrementalReplay(writer, attribution=ATTRIBUTION, stale_after=600) as run:
            run.plan([])
        statuses = [c.status for c in ReplayStore(writer).claims().values()]
        assert sorted(statuses) == [FINISHED, WITHDRAWN]  # the refused run wrote nothing
    finally:
        writer.close()


def test_a_second_replay_into_a_server_database_is_refused_while_the_first_runs(tmp_path):
    writer = ClickHouseWriter(f"chdb://{tmp_path / 'chdb'}")
    try:
        writer.migrate(ttl_days=0)
        first, second = ReplayStore(writer), ReplayStore(writer)
        first.embedded = second.embedded = False  # a server's rules: claims can be alive
        held = first.claim()
        with pytest.raises(ReplayBusyError, match="another replay into this database is "
                                                  "running"):
            second.claim()
        first.set_status(held.claim, FINISHED, generation=1, summary={})
        after = second.claim()
        assert after.last is not None and after.last.run_id == held.claim.run_id
        # A claim that is not renewed in time belongs to a replay that died.
        second.stale_after = 0.0
        third = ReplayStore(writer, stale_after=0.0)
        third.embedded = False
        lock = third.claim()
        assert [c.run_id for c in lock.interrupted] == [after.claim.run_id]
    finally:
        writer.close()


def test_a_replay_that_died_half_way_is_rebuilt_past_by_the_next(whole_small, tmp_path,
                                                                 monkeypatch):
    folder = tmp_path / "chdb"
    n = len(SMALL)
    replay_pieces(folder, [SMALL[: n // 2]])
    monkeypatch.setattr(replay_module, "WRITE_BATCH", 20)  # write early, then die

    def die(done):
        raise KeyboardInterrupt

    writer = ClickHouseWriter(f"chdb://{folder}")
    try:
        with pytest.raises(KeyboardInterrupt), \
                IncrementalReplay(writer, attribution=ATTRIBUTION, stale_after=600) as run:
            run.plan(sorted(SMALL[n // 2:], key=event_time_order))
            run.run(progress=die)
        statuses = sorted(c.status for c in ReplayStore(writer).claims().values())
        assert statuses == [FAILED, FINISHED]
        assert writer.query("SELECT count() FROM intro_events")[0][0] > 0
    finally:
        writer.close()
    assert replay_pieces(folder, [SMALL[n // 2:]]) == [REBUILD]
    assert snapshot(folder) == whole_small


def test_older_events_after_the_retention_removed_some_apply_on_the_state(tmp_path):
    """Without every earlier event no rebuild is possible: the current state stays exact."""
    whole_folder, folder = tmp_path / "whole", tmp_path / "pieces"
    replay_pieces(whole_folder, [SMALL])
    expected = snapshot(whole_folder, CURRENT_STATE_VIEWS)
    shuffled = random.Random(5).sample(SMALL, len(SMALL))
    n = len(shuffled)
    replay_pieces(folder, [shuffled[: n // 2]])
    writer = ClickHouseWriter(f"chdb://{folder}")
    try:  # what the crm_events TTL does to old rows
        writer.command("ALTER TABLE crm_events DELETE WHERE event_type = 'contact' "
                       "SETTINGS mutations_sync = 1")
        with IncrementalReplay(writer, attribution=ATTRIBUTION, stale_after=600) as run:
            decision = run.plan(sorted(shuffled[n // 2:], key=event_time_order))
            assert decision.mode == CONTINUE and "intro_conversion may differ" in \
                decision.warning
            run.run()
    finally:
        writer.close()
    found = snapshot(folder, CURRENT_STATE_VIEWS)
    for view in CURRENT_STATE_VIEWS:
        assert found[view] == expected[view], view


CHANGED = AttributionConfig(window_days=30.0, half_life_days=7.0)


def test_changed_attribution_settings_rebuild_and_equal_one_replay_with_them(whole_small,
                                                                             tmp_path):
    expected_folder, folder = tmp_path / "whole", tmp_path / "pieces"
    assert replay_pieces(expected_folder, [SMALL], attributions=[CHANGED]) == [FRESH]
    expected = snapshot(expected_folder)
    assert expected["attribution_state"] != whole_small["attribution_state"], \
        "the data set must give other attributions under the other settings"
    ordered = sorted(SMALL, key=event_time_order)
    first, second = ordered[: len(ordered) // 2], ordered[len(ordered) // 2:]
    assert replay_pieces(folder, [first, second, second],
                         attributions=[ATTRIBUTION, CHANGED, CHANGED]) == [
        FRESH, REBUILD, CONTINUE]  # cut by event time: continue, but for the settings
    assert_same(snapshot(folder), expected)


def test_the_command_says_it_rebuilds_for_changed_attribution_settings(tmp_path, capsys,
                                                                      monkeypatch):
    monkeypatch.chdir(tmp_path)
    files = halves_in_files(tmp_path, SMALL)
    dsn = f"chdb://{tmp_path / 'chdb'}"
    assert main(["replay", str(files[0]), "--clickhouse", dsn]) == 0
    capsys.readouterr()
    monkeypatch.setenv("COSELLING_ATTRIBUTION_HALF_LIFE_DAYS", "7")
    assert main(["replay", str(files[1]), "--clickhouse", dsn]) == 0
    assert ("rebuild: the attribution settings changed since the last replay (half-life "
            "30 days -> 7 days): rebuilding from crm_events and the file") in \
        capsys.readouterr().out


def test_changed_attribution_settings_without_every_event_are_refused(tmp_path):
    folder = tmp_path / "chdb"
    ordered = sorted(SMALL, key=event_time_order)
    replay_pieces(folder, [ordered[: len(ordered) // 2]])
    writer = ClickHouseWriter(f"chdb://{folder}")
    try:  # what the crm_events TTL does to old rows
        writer.command("ALTER TABLE crm_events DELETE WHERE event_type = 'contact' "
                       "SETTINGS mutations_sync = 1")
        with pytest.raises(ReplayRefusedError, match=r"attribution settings changed since "
                           r"the last replay \(window 180 days -> 30 days, half-life 30 days "
                           r"-> 7 days\), and crm_events no longer holds every event"), \
                IncrementalReplay(writer, attribution=CHANGED, stale_after=600) as run:
            run.plan(ordered[len(ordered) // 2:])
    finally:
        writer.close()


def test_a_server_replays_claim_stays_alive_through_steps_longer_than_the_staleness(
        tmp_path):
    writer = ClickHouseWriter(f"chdb://{tmp_path / 'chdb'}")
    try:
        writer.migrate(ttl_days=0)
        run = IncrementalReplay(writer, attribution=ATTRIBUTION, stale_after=0.4)
        rival = ReplayStore(writer, stale_after=0.4)
        run.store.embedded = rival.embedded = False  # a server's rules: claims can be alive
        with run:
            time.sleep(1.2)  # a long step (reading all of crm_events to plan a rebuild)
            with pytest.raises(ReplayBusyError):
                rival.claim()
            run.plan(sorted(SMALL, key=event_time_order))
            time.sleep(1.2)  # another, before writing (e.g. saving the state)
            with pytest.raises(ReplayBusyError):
                rival.claim()
            run.run()
        claims = ReplayStore(writer).claims()
        time.sleep(0.5)  # a renewal after the finished status would mark it running again
        assert ReplayStore(writer).claims() == claims
        assert claims[run.lock.claim.run_id].status == FINISHED
        assert sorted(c.status for c in claims.values()) == [FINISHED, WITHDRAWN, WITHDRAWN]
        assert RUNNING not in {c.status for c in claims.values()}
    finally:
        writer.close()


def test_a_new_database_is_replayed_into_while_it_opens_and_equals_a_replay_into_an_open_one(
        whole_small, tmp_path):
    writer = ClickHouseWriter(f"chdb://{tmp_path / 'chdb'}")
    assert writer.new_database
    try:
        with ThreadPoolExecutor(1) as pool:
            opening = pool.submit(writer.migrate, ttl_days=0)
            with IncrementalReplay(writer, attribution=ATTRIBUTION, stale_after=600,
                                   opening=opening) as run:
                assert run.plan(sorted(SMALL, key=event_time_order)).mode == FRESH
                run.run()
        assert not writer.new_database
        assert [c.status for c in ReplayStore(writer).claims().values()] == [FINISHED]
    finally:
        writer.close()
    assert snapshot(tmp_path / "chdb") == whole_small
    assert replay_pieces(tmp_path / "chdb", [SMALL]) == [CONTINUE]  # it saved its state


def test_a_database_taken_as_new_but_written_meanwhile_is_refused_before_any_write(tmp_path):
    folder = tmp_path / "chdb"
    replay_pieces(folder, [SMALL[:20]])
    writer = ClickHouseWriter(f"chdb://{folder}")
    try:
        rows = writer.query("SELECT count() FROM crm_events")[0][0]
        opened: Future = Future()
        opened.set_result(None)
        with pytest.raises(ReplayRefusedError, match="something else wrote into it"), \
                IncrementalReplay(writer, attribution=ATTRIBUTION, stale_after=600,
                                  opening=opened) as run:
            run.plan(sorted(SMALL[20:], key=event_time_order))
            run.run()
        assert writer.query("SELECT count() FROM crm_events")[0][0] == rows
        statuses = sorted(c.status for c in ReplayStore(writer).claims().values())
        assert statuses == [FINISHED, WITHDRAWN]
    finally:
        writer.close()


def test_tenant_settings_are_kept_in_the_saved_state_between_pieces(tmp_path):
    settings_v2 = tenant_settings("acme", ["acme.com"], version=2, day=1)
    first = [settings_v2, account("acme", "a1", domain="initrode.com", day=2)]
    second = [tenant_settings("globex", ["globex.com"], day=5),
              account("acme", "a2", domain="hooli.com", day=6)]
    assert replay_pieces(tmp_path / "chdb", [first, second]) == [FRESH, CONTINUE]
    writer = ClickHouseWriter(f"chdb://{tmp_path / 'chdb'}")
    try:
        saved = writer.query("SELECT key, argMax(value, generation) FROM replay_state "
                             "WHERE store = 'settings' GROUP BY key ORDER BY key")
    finally:
        writer.close()
    assert [(key, json.loads(value)["v"], json.loads(value)["d"]["ignored_domains"])
            for key, value in saved] == [("acme", 2, ["acme.com"]),
                                         ("globex", 1, ["globex.com"])]

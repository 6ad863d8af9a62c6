"""The commit audit: lines written by the worker, and the check that no commit skipped an
event nobody processed."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from faust.types import TP

from streams.commit_audit import (
    AuditEntry,
    AuditingMonitor,
    CommitAuditLog,
    UnprocessedCommit,
    read_audit,
    unprocessed_commits,
)
from streams.exceptions import CommitAuditError, CosellingError


def processed(pid: int, partition: int, *offsets: int, topic: str = "in") -> list[AuditEntry]:
    return [AuditEntry(pid, "processed", topic, partition, o) for o in offsets]


def commit(pid: int, partition: int, offset: int, topic: str = "in") -> AuditEntry:
    return AuditEntry(pid, "committed", topic, partition, offset)


def test_commits_of_processed_events_pass():
    entries = [*processed(1, 0, 0, 1, 2), commit(1, 0, 3),
               *processed(1, 1, 0), commit(1, 1, 1),
               *processed(1, 0, 3, 4), commit(1, 0, 5)]
    assert unprocessed_commits(entries) == []


def test_a_commit_past_an_unprocessed_event_is_found():
    entries = [*processed(1, 0, 0, 1, 2), commit(1, 0, 3),
               *processed(1, 0, 4, 5), commit(1, 0, 6)]  # offset 3 never processed
    assert unprocessed_commits(entries) == [UnprocessedCommit(1, "in", 0, 3, 6, (3,))]


def test_the_committed_offset_is_the_next_to_read():
    # committing 3 after processing 0..2 is fine; committing 4 claims 3 as well
    assert unprocessed_commits([*processed(1, 0, 0, 1, 2), commit(1, 0, 4)]) == [
        UnprocessedCommit(1, "in", 0, 0, 4, (3,))]


def test_processing_after_the_commit_does_not_count():
    entries = [*processed(1, 0, 0), commit(1, 0, 2), *processed(1, 0, 1)]
    assert unprocessed_commits(entries) == [UnprocessedCommit(1, "in", 0, 0, 2, (1,))]


def test_another_process_may_continue_from_the_committed_offset():
    # worker 1 commits 2 and dies having processed 2..3 (not committed); worker 2 takes the
    # partition over, processes from the commit on and commits 5: 2..4 were all processed
    entries = [*processed(1, 0, 0, 1), commit(1, 0, 2), *processed(1, 0, 2, 3),
               *processed(2, 0, 2, 3, 4), commit(2, 0, 5)]
    assert unprocessed_commits(entries) == []


def test_the_latest_commit_is_the_committed_offset_even_if_it_goes_back():
    # a stale commit moves the partition back to 1: the next commit must cover 1.. again
    entries = [*processed(1, 0, 0, 1, 2, 3), commit(1, 0, 4), commit(2, 0, 1),
               commit(2, 0, 5)]
    assert unprocessed_commits(entries) == [UnprocessedCommit(2, "in", 0, 1, 5, (4,))]


def test_partitions_and_log_start_are_kept_apart():
    entries = [*processed(1, 0, 10, 11), commit(1, 0, 12), *processed(1, 0, 0, topic="other"),
               commit(1, 1, 1, topic="other")]
    assert unprocessed_commits(entries, log_start={("in", 0): 10}) == [
        UnprocessedCommit(1, "other", 1, 0, 1, (0,))]


def test_the_log_writes_lines_the_checker_reads(tmp_path):
    path = tmp_path / "audit.jsonl"
    first, second = CommitAuditLog(path), CommitAuditLog(path)  # two writers, one file
    events = [SimpleNamespace(message=SimpleNamespace(tp=TP("in", 0), offset=o))
              for o in (0, 1)]  # what the audit reads of a Faust event
    first.processed(events)
    second.committed({TP("in", 0): 2})
    first.committed({TP("in", 1): 1})
    first.processed([])
    first.close()
    second.close()
    entries = list(read_audit(path))
    assert [(e.kind, e.partition, e.offset) for e in entries] == [
        ("processed", 0, 0), ("processed", 0, 1), ("committed", 0, 2), ("committed", 1, 1)]
    assert unprocessed_commits(entries) == [UnprocessedCommit(entries[-1].pid, "in", 1, 0, 1,
                                                              (0,))]
    assert json.loads(path.read_text().splitlines()[0])["topic"] == "in"


def test_the_monitor_records_commits_and_keeps_faust_s_figures(tmp_path):
    path = tmp_path / "audit.jsonl"
    audit = CommitAuditLog(path)
    monitor = AuditingMonitor(audit)
    monitor.on_tp_commit({TP("in", 3): 7})
    audit.close()
    assert monitor.tp_committed_offsets == {TP("in", 3): 7}
    assert [(e.kind, e.topic, e.partition, e.offset) for e in read_audit(path)] == [
        ("committed", "in", 3, 7)]


@pytest.mark.parametrize("line", ['{"pid": 1}', "not json", '{"pid": 1, "kind": "seen", '
                                  '"topic": "in", "partition": 0, "offset": 1}'])
def test_a_line_that_is_not_an_audit_line_is_an_error(tmp_path, line):
    path = tmp_path / "audit.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(CommitAuditError, match="audit.jsonl:1") as err:
        list(read_audit(path))
    assert isinstance(err.value, CosellingError)

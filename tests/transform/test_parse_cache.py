"""The parse cache folder stays bounded: it keeps the parses and the fixed-row
records used last (seeding a workspace or passing a run counts as a use), drops the
rest and the scratch copies of processes that died while writing, and a parse
another process removed meanwhile is parsed again, not an error."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from olist_elt.run.fixed_rows import passed, remember_passed
from olist_elt.transform.parse_cache import (
    KEEP_PARSES,
    KEEP_RECORDS,
    RECORD_PREFIX,
    SCRATCH_SECONDS,
    keep,
    seed,
)
from tests.conftest import workspace_settings


def _aged(path: Path, seconds_ago: float, content: bytes = b"") -> Path:
    path.write_bytes(content)
    then = time.time() - seconds_ago
    os.utime(path, (then, then))
    return path


def fill_cache(cache: Path, parses: int, records: int) -> tuple[list[Path], list[Path]]:
    """Parses and records used one minute apart, an hour or more ago, the first the
    longest ago."""
    cache.mkdir(parents=True, exist_ok=True)
    made_parses = [
        _aged(cache / f"{i:032x}.msgpack", 60 * (parses - i) + 3600, b"parse %d" % i)
        for i in range(parses)
    ]
    made_records = [
        _aged(cache / f"{RECORD_PREFIX}{i:032x}", 60 * (records - i) + 3600) for i in range(records)
    ]
    return made_parses, made_records


def _left(cache: Path) -> tuple[set[Path], set[Path]]:
    return set(cache.glob("*.msgpack")), set(cache.glob(f"{RECORD_PREFIX}*"))


def test_the_cache_keeps_the_entries_used_last_and_drops_the_rest(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    parses, records = fill_cache(cache, KEEP_PARSES + 8, KEEP_RECORDS + 20)
    died = _aged(cache / ".0badc0de.msgpack.4242", SCRATCH_SECONDS + 60, b"half a parse")
    writing = _aged(cache / ".c0ffee.msgpack.4343", 5, b"being written")
    other = _aged(cache / "notes.txt", SCRATCH_SECONDS * 10, b"not ours to remove")
    saved = tmp_path / "target" / "partial_parse.msgpack"
    saved.parent.mkdir()
    saved.write_bytes(b"this run's parse")
    mine = cache / ("f" * 32 + ".msgpack")

    keep(saved, mine)

    left_parses, _ = _left(cache)
    assert mine.read_bytes() == b"this run's parse"
    assert left_parses == {mine, *parses[-(KEEP_PARSES - 1) :]}
    assert not died.exists() and writing.exists() and other.exists()

    settings = workspace_settings(tmp_path / "ws", dbt_parse_cache=cache)
    remember_passed(settings, "e" * 64)
    _, left_records = _left(cache)
    assert left_records == {cache / f"{RECORD_PREFIX}{'e' * 32}", *records[-(KEEP_RECORDS - 1) :]}


def test_an_entry_in_use_outlives_newer_ones_nobody_used(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    parses, records = fill_cache(cache, KEEP_PARSES, KEEP_RECORDS)
    oldest_parse, oldest_record = parses[0], records[0]

    # a new workspace starts from the oldest parse; a run finds the oldest record
    workspace = tmp_path / "ws" / "target" / "partial_parse.msgpack"
    seed(oldest_parse, workspace)
    assert workspace.read_bytes() == b"parse 0"
    settings = workspace_settings(tmp_path / "ws", dbt_parse_cache=cache)
    assert passed(settings, oldest_record.name.removeprefix(RECORD_PREFIX), None)

    # one more of each: the least recently used goes, not the one just used
    saved = tmp_path / "other" / "partial_parse.msgpack"
    saved.parent.mkdir(parents=True)
    saved.write_bytes(b"another target's parse")
    keep(saved, cache / ("a" * 32 + ".msgpack"))
    remember_passed(settings, "b" * 64)

    left_parses, left_records = _left(cache)
    assert oldest_parse in left_parses and parses[1] not in left_parses
    assert len(left_parses) == KEEP_PARSES
    assert oldest_record in left_records and records[1] not in left_records
    assert len(left_records) == KEEP_RECORDS


def test_a_parse_removed_by_another_process_is_parsed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process prunes the kept parse just as this one starts copying it: the
    workspace starts with no parse (dbt parses the project), and keeping this run's
    parse writes the entry again."""
    import shutil

    cache = tmp_path / "cache"
    cache.mkdir()
    kept = _aged(cache / ("d" * 32 + ".msgpack"), 60, b"a parse")
    saved = tmp_path / "ws" / "target" / "partial_parse.msgpack"
    copy = shutil.copyfile

    def pruned_meanwhile(src: Path, dst: Path) -> object:
        Path(src).unlink(missing_ok=True)  # the other process's prune
        return copy(src, dst)

    monkeypatch.setattr(shutil, "copyfile", pruned_meanwhile)
    seed(kept, saved)
    monkeypatch.undo()
    assert not saved.exists() and not kept.exists()

    saved.write_bytes(b"parsed from scratch")
    keep(saved, kept)
    assert kept.read_bytes() == b"parsed from scratch"


def test_a_cache_that_cannot_be_used_leaves_the_parse_to_dbt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A cache folder that cannot be read or written (here a file stands where it
    should be; a read-only or full disk alike) is logged and left aside: the
    workspace starts with no parse of its own, and its parse stays where it is."""
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    cached = blocked / "cache" / ("c" * 32 + ".msgpack")
    saved = tmp_path / "ws" / "target" / "partial_parse.msgpack"

    seed(cached, saved)  # raises nothing
    assert not saved.exists()
    saved.write_bytes(b"parsed from scratch")
    keep(saved, cached)  # raises nothing
    assert saved.read_bytes() == b"parsed from scratch"
    assert "dbt's kept parse not read from" in caplog.text
    assert "dbt's parse not kept in" in caplog.text

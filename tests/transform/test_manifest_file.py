"""manifest.json beside the pipeline's kept parse: written when that parse changed,
kept while it is the same one, and never left half written or wrongly kept."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from olist_elt.transform.manifest_file import (
    SAVED_PARSE,
    SCRATCH_PREFIX,
    STAMP,
    manifest_current,
    write_manifest,
)


class Writer:
    """dbt's writer as the pipeline calls it: writes manifest.json (the manifest's
    label and the call's number) and semantic_manifest.json into the folder it is
    given; with fail_after set, stops with a full disk after that many bytes of
    manifest.json."""

    def __init__(self) -> None:
        self.calls = 0
        self.fail_after: int | None = None

    def __call__(self, manifest: str, target_path: str, which: str | None = None) -> None:
        self.calls += 1
        folder = Path(target_path)
        (folder / "semantic_manifest.json").write_text("{}")
        text = json.dumps({"manifest": manifest, "call": self.calls, "nodes": ["x"] * 50})
        with open(folder / "manifest.json", "w") as fh:
            if self.fail_after is not None:
                fh.write(text[: self.fail_after])
                raise OSError(28, "No space left on device")
            fh.write(text)


@pytest.fixture
def writer(monkeypatch: pytest.MonkeyPatch) -> Writer:
    import dbt.parser.manifest

    monkeypatch.delenv("DBT_PARTIAL_PARSE_FILE_PATH", raising=False)
    fake = Writer()
    monkeypatch.setattr(dbt.parser.manifest, "write_manifest", fake)
    return fake


def _manifest(target: Path) -> dict:
    return json.loads((target / "manifest.json").read_text())


def test_written_once_per_parse_and_again_when_the_parse_or_the_files_change(
    tmp_path: Path, writer: Writer
) -> None:
    (tmp_path / SAVED_PARSE).write_bytes(b"parse one")
    write_manifest("one", tmp_path)
    assert writer.calls == 1 and _manifest(tmp_path)["manifest"] == "one"
    assert manifest_current(tmp_path)
    for name in ("manifest.json", "semantic_manifest.json", STAMP):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o600, name

    write_manifest("one", tmp_path)  # the same parse: kept
    assert writer.calls == 1

    (tmp_path / SAVED_PARSE).write_bytes(b"parse two")  # dbt parsed again
    assert not manifest_current(tmp_path)
    write_manifest("two", tmp_path)
    assert writer.calls == 2 and _manifest(tmp_path)["manifest"] == "two"

    (tmp_path / "manifest.json").write_text('{"written": "by another command"}')
    write_manifest("two", tmp_path)
    assert writer.calls == 3 and _manifest(tmp_path)["manifest"] == "two"

    (tmp_path / "semantic_manifest.json").unlink()
    write_manifest("two", tmp_path)
    assert writer.calls == 4 and (tmp_path / "semantic_manifest.json").is_file()
    assert not list(tmp_path.glob(f"{SCRATCH_PREFIX}*"))


def test_a_write_cut_short_keeps_the_old_files_and_is_written_by_the_next_parse(
    tmp_path: Path, writer: Writer, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / SAVED_PARSE).write_bytes(b"parse one")
    write_manifest("one", tmp_path)
    (tmp_path / SAVED_PARSE).write_bytes(b"parse two")
    writer.fail_after = 20

    with caplog.at_level(logging.WARNING):
        write_manifest("two", tmp_path)  # a full disk: logged, the run goes on

    assert "manifest.json not written" in caplog.text and "No space left" in caplog.text
    assert _manifest(tmp_path)["manifest"] == "one"  # whole, not half of "two"
    assert not manifest_current(tmp_path)
    assert not [p for p in tmp_path.iterdir() if p.is_dir()]  # no scratch left
    writer.fail_after = None
    write_manifest("two", tmp_path)
    assert _manifest(tmp_path)["manifest"] == "two" and manifest_current(tmp_path)


def test_a_parse_read_from_elsewhere_always_writes(
    tmp_path: Path, writer: Writer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With DBT_PARTIAL_PARSE_FILE_PATH dbt reads its parse from that file but writes
    the target's: the target's saved parse does not say which parse was used."""
    (tmp_path / SAVED_PARSE).write_bytes(b"parse one")
    write_manifest("one", tmp_path)
    monkeypatch.setenv("DBT_PARTIAL_PARSE_FILE_PATH", str(tmp_path / "elsewhere.msgpack"))
    write_manifest("other", tmp_path)
    assert writer.calls == 2 and _manifest(tmp_path)["manifest"] == "other"


def test_without_a_saved_parse_every_parse_writes(tmp_path: Path, writer: Writer) -> None:
    """Partial parsing off: dbt keeps no parse to tell which one manifest.json is."""
    write_manifest("one", tmp_path)
    write_manifest("two", tmp_path)
    assert writer.calls == 2 and _manifest(tmp_path)["manifest"] == "two"


def test_old_scratch_folders_of_a_killed_write_are_removed(tmp_path: Path, writer: Writer) -> None:
    (tmp_path / SAVED_PARSE).write_bytes(b"parse one")
    old, recent = tmp_path / f"{SCRATCH_PREFIX}old", tmp_path / f"{SCRATCH_PREFIX}recent"
    for folder in (old, recent):
        folder.mkdir()
        (folder / "manifest.json").write_text("{")
    os.utime(old, (1, 1))
    write_manifest("one", tmp_path)
    assert not old.exists() and recent.exists()  # another process may be writing it

"""What the lake, the audit log and quarantine hold is readable by the owner only."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from olist_elt.connectors.olist import OlistCsvConnector
from olist_elt.lake.lander import Lander
from olist_elt.lake.private import owner_only
from olist_elt.lake.storage import open_storage
from olist_elt.security.audit import AuditLog
from olist_elt.settings import Settings


@pytest.fixture()
def open_umask() -> Iterator[None]:
    """The common umask (022), under which files are created world-readable."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def _modes(root: Path) -> dict[str, int]:
    paths = [root, *root.rglob("*")]
    return {str(p.relative_to(root)): stat.S_IMODE(p.lstat().st_mode) for p in paths}


@pytest.mark.usefixtures("open_umask")
def test_raw_manifest_quarantine_audit_and_anchor_are_owner_only(
    workspace: Settings, sample_dir: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "olist_orders_dataset.csv").write_bytes("pedido,são\n1,2\n".encode("latin-1"))
    storage = open_storage(workspace, "svc-connector-olist")
    lander = Lander(storage, AuditLog(workspace.audit_path))
    for run_id, source in (("r1", sample_dir), ("r2", bad)):
        connector = OlistCsvConnector(source, workspace.landing_dir, run_id)
        lander.land(connector, connector.read(lander.view(connector)), run_id)

    modes = _modes(workspace.lake_dir)

    kinds = {p.split("/")[0] for p in modes}
    assert {"raw", "quarantine", "_audit", "runs"} <= kinds
    assert workspace.audit_anchor_path.exists()
    wrong = {
        path: oct(mode)
        for path, mode in modes.items()
        if mode != (0o700 if (workspace.lake_dir / path).is_dir() else 0o600)
    }
    assert wrong == {}


@pytest.mark.usefixtures("open_umask")
def test_owner_only_makes_what_is_created_private_and_gives_the_umask_back(
    tmp_path: Path,
) -> None:
    with pytest.raises(RuntimeError), owner_only():
        (tmp_path / "inside").write_text("x")
        (tmp_path / "folder").mkdir()
        raise RuntimeError("a failure inside")
    (tmp_path / "after").write_text("x")
    modes = _modes(tmp_path)
    del modes["."]  # pytest's own folder
    assert modes == {"inside": 0o600, "folder": 0o700, "after": 0o644}

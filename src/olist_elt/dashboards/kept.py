"""Pages kept between renders: a page that reads the served gold only is written from
what the last publish served, so while that stays the same (and the page's
definition, links and the renderer do), the page is kept as written instead of
queried again. The Operations page reads the run history and is always written."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from olist_elt.dashboards.model import Dashboard


@dataclass
class RenderedDashboard:
    """What render wrote for one dashboard; errors hold '<card title>: <error class>'."""

    slug: str
    path: Path
    charts: int
    errors: list[str]


def page_key(
    dashboard: Dashboard,
    nav: list[Dashboard],
    source: str,
    unavailable: frozenset[str],
    served_version: str | None,
) -> str | None:
    """Everything a page's HTML follows from, hashed: its definition, the pages it
    links, the source, the switched-off relations, the served version and the
    renderer. None when the page must be queried every time: no served version is
    known, or a card reads the run history (ops), which every run adds to."""
    if served_version is None or any(r.startswith("ops.") for r in dashboard.relations):
        return None
    parts = [
        dashboard.model_dump_json(),
        [(d.slug, d.name) for d in nav],
        source,
        sorted(unavailable),
        served_version,
        _renderer_digest(),
    ]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def kept_page(dashboard: Dashboard, out_dir: Path, key: str | None) -> RenderedDashboard | None:
    """The page as an earlier render wrote it, when it was written for this key, every
    card drew, and it is still the file it wrote; None otherwise."""
    path, stamp = out_dir / f"{dashboard.slug}.html", _stamp(out_dir, dashboard)
    if key is None or not path.exists() or not stamp.exists():
        return None
    try:
        kept = json.loads(stamp.read_text(encoding="utf-8"))
    except ValueError:
        return None
    if kept.get("key") != key or kept.get("errors") or kept.get("sha256") != _sha256(path):
        return None  # a failed card is queried again
    return RenderedDashboard(dashboard.slug, path, int(kept["charts"]), list(kept["errors"]))


def keep_page(
    dashboard: Dashboard, out_dir: Path, key: str | None, page: RenderedDashboard
) -> None:
    """Remember what a page was written for (when it has a key), for kept_page."""
    if key is not None:
        _stamp(out_dir, dashboard).write_text(
            json.dumps(
                {
                    "key": key,
                    "sha256": _sha256(page.path),
                    "charts": page.charts,
                    "errors": page.errors,
                }
            ),
            encoding="utf-8",
        )


def _stamp(out_dir: Path, dashboard: Dashboard) -> Path:
    return out_dir / f".{dashboard.slug}.rendered.json"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@cache
def _renderer_digest() -> str:
    """The renderer's own code and assets: a changed renderer writes every page again."""
    digest = hashlib.sha256()
    here = Path(__file__).parent
    for path in sorted(p for p in here.rglob("*") if p.is_file() and p.suffix in (".py", ".js")):
        digest.update(path.read_bytes())
    return digest.hexdigest()

"""Facts the dbt project holds, read from its parsed manifest instead of restated in
Python: which relations the API connectors feed, which bronze models are incremental
and which raw data set each reads, the snapshots and their keys, where each layer is
built, and how each Olist data set flows through the layers (model meta)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

API_TAG = "apis"


def _models(manifest: Any) -> list[Any]:
    return [n for n in manifest.nodes.values() if n.resource_type == "model"]


def _disabled(manifest: Any) -> list[Any]:
    return [n for nodes in (manifest.disabled or {}).values() for n in nodes]


def sources_of(node: Any) -> list[tuple[str, str]]:
    """The (source, table) pairs a model reads, each once."""
    return sorted({(str(s[0]), str(s[1])) for s in node.sources})


def upstream_sources(manifest: Any, names: tuple[str, ...]) -> frozenset[tuple[str, str]]:
    """The (source, table) pairs the named nodes read, directly or through their
    parents: the raw objects' source and data set their outcome can depend on."""
    nodes = manifest.nodes
    todo = [uid for uid, node in nodes.items() if node.name in names]
    seen, found = set(todo), set()
    while todo:
        node = nodes[todo.pop()]
        if node.resource_type != "seed":  # a seed reads no source (dbt raises on asking)
            found.update(sources_of(node))
        # a seed depends on macros only; a source is no node
        for parent in getattr(node.depends_on, "nodes", ()):
            if parent in nodes and parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return frozenset(found)


def layer_of(node: Any) -> str | None:
    """The model's layer: the first folder under models/ (bronze, silver, gold, ...)."""
    return node.fqn[1] if len(node.fqn) > 2 else None


def api_relations(manifest: Any) -> frozenset[str]:
    """Models fed by the API connectors (tag 'apis'), enabled or not."""
    return frozenset(n.name for n in _models(manifest) + _disabled(manifest) if API_TAG in n.tags)


def disabled_relations(manifest: Any) -> frozenset[str]:
    """Models this parse switched off (the APIs set to off, the stream not fed)."""
    return frozenset(n.name for n in _disabled(manifest) if n.resource_type == "model")


def incremental_bronze(manifest: Any) -> dict[str, tuple[str, str]]:
    """Incremental bronze models and the raw (source, data set) each one reads."""
    out: dict[str, tuple[str, str]] = {}
    for node in _models(manifest):
        if layer_of(node) == "bronze" and node.config.materialized == "incremental":
            sources = [s for s in sources_of(node) if s[0] != "erasure"]
            if len(sources) == 1:
                out[node.name] = sources[0]
    return dict(sorted(out.items()))


def gold_tables(manifest: Any) -> frozenset[str]:
    """The tables this parse builds in gold's staging schema (kept between runs: the
    incremental facts build on what is there)."""
    return frozenset(alias for _, alias in layer_relations(manifest, "gold").values())


@dataclass(frozen=True)
class SnapshotInfo:
    """One dbt snapshot: its relation and the key its versions belong to."""

    name: str
    schema: str
    unique_key: str


def snapshots(manifest: Any) -> list[SnapshotInfo]:
    """The project's snapshots (type-2 history)."""
    return sorted(
        (
            SnapshotInfo(n.name, n.schema, str(n.config.unique_key))
            for n in manifest.nodes.values()
            if n.resource_type == "snapshot"
        ),
        key=lambda s: s.name,
    )


def snapshot_of(manifest: Any, model: str) -> SnapshotInfo | None:
    """The snapshot a (type-2) model is built from, if any."""
    by_id = {uid: n for uid, n in manifest.nodes.items() if n.resource_type == "snapshot"}
    for node in _models(manifest):
        if node.name == model:
            for uid in node.depends_on.nodes:
                if uid in by_id:
                    s = by_id[uid]
                    return SnapshotInfo(s.name, s.schema, str(s.config.unique_key))
    return None


def layer_schema(manifest: Any, layer: str) -> str:
    """The schema this parse builds a layer's models into (gold: the staging schema
    when the pipeline builds it for the gate)."""
    schemas = {n.schema for n in _models(manifest) if layer_of(n) == layer}
    if len(schemas) != 1:
        raise ValueError(f"layer {layer!r} is built into {sorted(schemas)}, not one schema")
    return schemas.pop()


def layer_relations(manifest: Any, layer: str) -> dict[str, tuple[str, str]]:
    """Each table of a layer and the (schema, name) ref() resolves it to."""
    return {
        n.name: (n.schema, n.alias)
        for n in _models(manifest)
        if layer_of(n) == layer and n.config.materialized != "ephemeral"
    }


def reconciled_datasets(manifest: Any) -> dict[str, dict[str, str]]:
    """Per raw data set: the bronze, silver and gold model that carry it
    (`meta: {reconciles: <data set>}` on the silver and gold models; bronze by its
    source). Ordered as the source tables are."""
    out: dict[str, dict[str, str]] = {}
    for node in _models(manifest):
        layer = layer_of(node)
        if layer == "bronze":
            sources = [s for s in sources_of(node) if s[0] == "olist"]
            if len(sources) == 1:
                out.setdefault(sources[0][1], {})["bronze"] = node.name
        elif layer in ("silver", "gold"):
            dataset = (node.meta or {}).get("reconciles")
            if dataset:
                out.setdefault(str(dataset), {})[layer] = node.name
    return {d: layers for d, layers in sorted(out.items()) if "silver" in layers}


_HOURS = {"minute": 1 / 60, "hour": 1.0, "day": 24.0}


def freshness_max_age_hours(manifest: Any) -> dict[str, float]:
    """Per source: the age (hours) past which its latest accepted raw object is stale,
    the `error_after` its sources yml declares (the strictest of its tables)."""
    out: dict[str, float] = {}
    for node in manifest.sources.values():
        freshness = getattr(node, "freshness", None) or node.config.freshness
        limit = getattr(freshness, "error_after", None)
        if limit is None or limit.count is None or limit.period is None:
            continue
        hours = limit.count * _HOURS[str(getattr(limit.period, "value", limit.period))]
        out[node.source_name] = min(hours, out.get(node.source_name, hours))
    return dict(sorted(out.items()))

"""One Target per engine. This module is the only place that looks at
`settings.target`; everything else asks the Target it is given."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from olist_elt.errors import SettingsError
from olist_elt.settings import Settings
from olist_elt.targets.base import LAYERS, Target, build_layer
from olist_elt.targets.local import LocalTarget
from olist_elt.targets.postgres import WarehouseTarget
from olist_elt.targets.spark import SparkTarget, SparkThriftTarget

TARGETS: dict[str, type[Target]] = {
    LocalTarget.name: LocalTarget,
    WarehouseTarget.name: WarehouseTarget,
    SparkTarget.name: SparkTarget,
    SparkThriftTarget.name: SparkThriftTarget,
}


def target_for(settings: Settings, dbt_runner: Callable[..., Any] | None = None) -> Target:
    """The Target the settings name (OLIST_TARGET)."""
    try:
        cls = TARGETS[settings.target]
    except KeyError:
        raise SettingsError(
            f"OLIST_TARGET: unknown target {settings.target!r}; choose one of {sorted(TARGETS)}"
        ) from None
    return cls(settings, dbt_runner)


__all__ = ["LAYERS", "TARGETS", "Target", "build_layer", "target_for"]

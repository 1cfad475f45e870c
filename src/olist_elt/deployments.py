"""The Prefect deployments declared in prefect.yaml: load each flow, check its
parameters against the flow's signature, and tell when its schedules fire next."""

from __future__ import annotations

import asyncio
import importlib.util
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from olist_elt.errors import OlistEltError
from olist_elt.settings import REPO_ROOT

PREFECT_YAML = REPO_ROOT / "prefect.yaml"
FLOWS_DIR = REPO_ROOT / "flows"


def load_flow(module_file: str, attr: str) -> Any:
    """Import a flow from flows/<file>.py of the repository."""
    path = FLOWS_DIR / module_file
    spec = importlib.util.spec_from_file_location(f"olist_flows_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise OlistEltError(f"cannot load flow file {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, attr)


class DeploymentError(OlistEltError):
    """A deployment in prefect.yaml does not load."""


@dataclass
class Deployment:
    """One deployment, loaded and checked."""

    name: str
    flow_name: str
    entrypoint: str
    parameters: dict[str, Any]
    schedules: list[tuple[str, str, bool]]  # (cron, timezone, active)
    work_pool: str
    next_runs: list[datetime]


def load_deployments(path: Path = PREFECT_YAML, now: datetime | None = None) -> list[Deployment]:
    """Every deployment of prefect.yaml with its flow imported and parameters checked."""
    from prefect.flows import load_flow_from_entrypoint
    from prefect.server.schemas.schedules import CronSchedule

    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    now = now or datetime.now(UTC)
    out = []
    for entry in spec.get("deployments", []):
        name = entry["name"]
        try:
            flow = load_flow_from_entrypoint(str(path.parent / entry["entrypoint"]))
            flow.validate_parameters(entry.get("parameters") or {})
            schedules = []
            next_runs = []
            for sched in entry.get("schedules", []):
                tz = sched.get("timezone") or "UTC"
                cron = CronSchedule(cron=sched["cron"], timezone=tz)
                schedules.append((sched["cron"], tz, bool(sched.get("active", True))))
                [first] = asyncio.run(cron.get_dates(n=1, start=now))
                next_runs.append(datetime.fromisoformat(first.isoformat()))
        except Exception as exc:  # import errors, bad parameters, bad cron: name the deployment
            raise DeploymentError(f"deployment {name!r}: {type(exc).__name__}: {exc}") from None
        out.append(
            Deployment(
                name=name,
                flow_name=flow.name,
                entrypoint=entry["entrypoint"],
                parameters=entry.get("parameters") or {},
                schedules=schedules,
                work_pool=(entry.get("work_pool") or {}).get("name", ""),
                next_runs=next_runs,
            )
        )
    return out

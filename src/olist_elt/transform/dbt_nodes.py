"""dbt nodes as Prefect task runs: dbt's own runner, with a callback that reports each
node (model, seed, snapshot, test, unit test) to the flow run as a task run of the step
that runs it, with its state, its upstream nodes and its log lines.

prefect-dbt's runner did this by running a Prefect task engine per node in a thread
of its own, which rebuilt Prefect's settings from scratch twice per node (about 0.2 s
of CPU a node on two cores, taken from dbt's threads). A test-scale flow run took
39.2 s with it, 24.8 s with this, 17.8 s with no node shown. Here one background
thread makes two API calls a node (create the task run Running, set its final state)
and ships its log lines through Prefect's public client; dbt never waits for the API,
and an API that fails is logged once and never fails the build. Every line and state
message sent is stripped of quoted values (`without_values`), as the run record is:
the API's logs are read by every UI user, dbt's own log by the owner only."""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

from prefect import Task, get_run_logger
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import TaskRunResult
from prefect.context import FlowRunContext, TaskRunContext
from prefect.logging.loggers import task_run_logger
from prefect.states import Completed, Crashed, Failed, Running

from olist_elt.transform.dbt import FAILED_STATUSES, dbt_runner, without_values

log = logging.getLogger(__name__)

SKIPPED = frozenset({"skipped"})
LEVELS = {"info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}
NODE_EVENTS = frozenset({"NodeStart", "NodeFinished"})
_DONE = object()


def _dbt_node() -> None:
    """Stands for one dbt node (a task run is reported, never called)."""


class DbtNodeTasks:
    """dbt's programmatic runner for one command (`invoke(argv)`), each node reported
    as a task run when called inside a flow run; dbt's runner unchanged outside one."""

    def __init__(self, manifest: Any, client: Callable[[], Any] | None = None) -> None:
        self.manifest = manifest
        self.client = client or partial(get_client, sync_client=True)

    def invoke(self, argv: list[str]) -> Any:
        flow_run = FlowRunContext.get()
        if flow_run is None or flow_run.flow_run is None:
            return dbt_runner(self.manifest).invoke(argv)
        step = TaskRunContext.get()
        reporter = Reporter(
            self.client,
            self.manifest,
            flow_run.flow_run.id,
            step.task_run.id if step else None,
            get_run_logger(),
        )
        reporter.start()
        try:
            return dbt_runner(self.manifest, [reporter.put]).invoke(argv)
        finally:
            reporter.close()


class Reporter(threading.Thread):
    """Turns dbt's events, put from dbt's threads, into task runs and their logs."""

    def __init__(
        self,
        client: Callable[[], Any],
        manifest: Any,
        flow_run_id: uuid.UUID,
        parent: uuid.UUID | None,
        step_log: Any,
    ) -> None:
        super().__init__(name="dbt-node-tasks", daemon=True)
        self.make_client = client
        self.manifest = manifest
        self.flow_run_id = flow_run_id
        self.parent = parent
        self.step_log = step_log
        self.events: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.runs: dict[str, Any] = {}  # unique_id -> its task run in this command
        self.open: set[str] = set()
        self.failed_api = False

    def put(self, event: Any) -> None:
        """dbt's callback, on dbt's threads: queue what is reported (a node starting or
        finishing, and lines at info level and above), never the debug stream."""
        if event.info.name in NODE_EVENTS or event.info.level in LEVELS:
            self.events.put(event)

    def close(self, patience: float = 60.0) -> None:
        """Wait for what is queued to be reported, at most patience seconds after dbt
        ends: an API that answers slowly never holds the run up for longer; what was
        not reported by then is dropped, and said so."""
        self.events.put(_DONE)
        self.join(patience)
        if self.is_alive():
            self.failed_api = True  # the thread stops calling the API
            log.warning(
                "dbt nodes not all reported to Prefect: the API did not keep up in %g s",
                patience,
            )

    def run(self) -> None:
        try:
            with self.make_client() as client:
                self.client = client
                while (event := self.events.get()) is not _DONE:
                    self._api(self._handle, event)
                for unique_id in sorted(self.open):  # dbt stopped before these finished
                    self._api(self._finish, unique_id, None, "dbt ended before it finished")
        except Exception as exc:  # no client: the build goes on unreported
            log.warning("dbt nodes not reported to Prefect: %s", exc)

    def _api(self, fn: Any, *args: Any) -> None:
        """Calls to the Prefect API; once one failed (or close ran out of patience)
        none is made again, so a down API is never waited on; the build goes on."""
        if self.failed_api:
            return
        try:
            fn(*args)
        except Exception as exc:
            self.failed_api = True
            log.warning("dbt nodes not reported to Prefect: %s", exc)

    def _handle(self, event: Any) -> None:
        info = event.info
        node = getattr(event.data, "node_info", None)
        unique_id = node.unique_id if node is not None and node.unique_id else None
        if unique_id is None or node.resource_type == "operation":
            if info.level in LEVELS and info.msg:
                self.step_log.log(LEVELS[info.level], without_values(info.msg))
            return
        if unique_id not in self.runs:
            self._create(unique_id, node)
        if info.name == "NodeFinished":
            message = getattr(getattr(event.data, "run_result", None), "message", None)
            self._finish(unique_id, node.node_status, message)
        elif info.name != "NodeStart" and info.level in LEVELS and info.msg:
            task_run_logger(self.runs[unique_id]).log(LEVELS[info.level], without_values(info.msg))

    def _create(self, unique_id: str, node: Any) -> None:
        name = f"{node.resource_type} {node.node_name}"
        upstream = [self.runs[u].id for u in self._depends_on(unique_id) if u in self.runs]
        inputs: dict[str, list[Any]] = {"wait_for": [TaskRunResult(id=i) for i in upstream]}
        if self.parent is not None:
            inputs["__parents__"] = [TaskRunResult(id=self.parent)]
        self.runs[unique_id] = self.client.create_task_run(
            Task(fn=_dbt_node, name=name),
            flow_run_id=self.flow_run_id,
            dynamic_key=uuid.uuid4().hex,
            name=name,
            state=Running(),
            task_inputs=inputs,
        )
        self.open.add(unique_id)

    def _finish(self, unique_id: str, status: str | None, message: str | None) -> None:
        if unique_id not in self.open:
            return
        self.open.discard(unique_id)
        status = (status or "").lower()
        message = without_values(message) if message else None
        text = f"{unique_id}: {status or 'not finished'}" + (f": {message}" if message else "")
        if status in FAILED_STATUSES:
            state = Failed(message=text)
            if message:  # the error, in the node's own log
                task_run_logger(self.runs[unique_id]).error(message)
        elif status in SKIPPED:
            state = Completed(name="Skipped", message=text)
        elif not status:  # no NodeFinished: dbt stopped while the node ran
            state = Crashed(message=text)
        else:
            state = Completed(message=text)
        self.client.set_task_run_state(self.runs[unique_id].id, state, force=True)

    def _depends_on(self, unique_id: str) -> list[str]:
        for nodes in (self.manifest.nodes, getattr(self.manifest, "unit_tests", {})):
            with contextlib.suppress(AttributeError, KeyError):
                return list(nodes[unique_id].depends_on.nodes)
        return []

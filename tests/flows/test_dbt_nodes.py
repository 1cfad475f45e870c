"""dbt nodes reported to Prefect as task runs, from dbt's events: the states a node's
task run goes through, its upstream nodes and step, its log without row values, and
an API that fails never failing or holding up the build. The same reporter against a
real Prefect server and a real dbt build: test_prefect_server."""

from __future__ import annotations

import logging
import time
import uuid
from types import SimpleNamespace as NS
from typing import Any

import httpx
import pytest
from prefect.client.schemas.objects import TaskRun

from olist_elt.transform.dbt_nodes import Reporter

FLOW_RUN, STEP = uuid.uuid4(), uuid.uuid4()
MANIFEST = NS(
    nodes={
        "model.p.a": NS(depends_on=NS(nodes=["source.p.raw"])),
        "model.p.b": NS(depends_on=NS(nodes=["model.p.a"])),
        "test.p.not_null_b": NS(depends_on=NS(nodes=["model.p.b"])),
    },
    unit_tests={"unit_test.p.b.b_adds": NS(depends_on=NS(nodes=["model.p.b"]))},
)


class FakeClient:
    """Prefect's sync client, as the reporter uses it; records each call."""

    def __init__(self, fail: bool = False, slow: float = 0.0) -> None:
        self.fail = fail
        self.slow = slow
        self.calls: list[tuple[str, Any]] = []
        self.runs: dict[uuid.UUID, str] = {}  # task run id -> its name
        self.inputs: dict[str, dict[str, list[Any]]] = {}  # name -> its task inputs
        self.messages: list[str | None] = []  # the final states' messages

    def __enter__(self) -> FakeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def create_task_run(self, task: Any, flow_run_id: uuid.UUID, **kw: Any) -> TaskRun:
        self.calls.append(("create", kw["name"]))
        time.sleep(self.slow)
        if self.fail:
            raise httpx.ConnectError("connection refused")
        run = TaskRun(
            id=uuid.uuid4(),
            name=kw["name"],
            flow_run_id=flow_run_id,
            task_key=task.task_key,
            dynamic_key=kw["dynamic_key"],
            state=kw["state"],
            task_inputs=kw["task_inputs"],
        )
        self.runs[run.id] = kw["name"]
        self.inputs[kw["name"]] = kw["task_inputs"]
        return run

    def set_task_run_state(self, task_run_id: uuid.UUID, state: Any, force: bool) -> None:
        self.calls.append(("state", (self.runs[task_run_id], state.type.value, state.name)))
        self.messages.append(state.message)


def event(name: str, unique_id: str | None, msg: str = "", level: str = "info", **node: Any) -> NS:
    """A dbt EventMsg's shape: info (name, level, msg) and data (node_info, run_result)."""
    kind, _, rest = (unique_id or "").partition(".")
    info = NS(unique_id=unique_id, resource_type=kind, node_name=rest.split(".")[-1], **node)
    data = NS(node_info=info if unique_id else None, run_result=NS(message=node.get("error")))
    return NS(info=NS(name=name, level=level, msg=msg), data=data)


@pytest.fixture
def records(monkeypatch: pytest.MonkeyPatch) -> list[logging.LogRecord]:
    """What the step's and the nodes' loggers were given, kept here only (Prefect's
    own handler would start a temporary server to send them to)."""
    seen: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = seen.append  # type: ignore[method-assign]
    for name in ("prefect.task_runs", "tests.step"):
        monkeypatch.setattr(logging.getLogger(name), "handlers", [handler])
    return seen


def report(client: FakeClient, events: list[NS], patience: float = 60.0) -> Reporter:
    steps = logging.getLogger("tests.step")
    reporter = Reporter(lambda: client, MANIFEST, FLOW_RUN, STEP, steps)
    reporter.start()
    for e in events:
        reporter.put(e)
    reporter.close(patience)
    return reporter


def test_each_node_is_a_task_run_of_its_step_that_ends_in_its_dbt_status(
    records: list[logging.LogRecord],
) -> None:
    client = FakeClient()
    value_error = "Conversion Error: Could not convert string 'maria@example.com' to INT"
    logging.getLogger("tests.step").setLevel(logging.INFO)
    report(
        client,
        [
            event("MainReportVersion", None, "Running with dbt=1.11"),
            event("NodeStart", "model.p.a"),
            event("LogModelResult", "model.p.a", "1 of 4 OK created model a"),
            event("NodeFinished", "model.p.a", node_status="success"),
            event("NodeStart", "model.p.b"),
            event("NodeFinished", "model.p.b", node_status="error", error=value_error),
            event("NodeFinished", "test.p.not_null_b", node_status="skipped"),
            event("NodeStart", "unit_test.p.b.b_adds"),  # dbt stopped during it
        ],
    )
    assert [c for c in client.calls if c[0] == "state"] == [
        ("state", ("model a", "COMPLETED", "Completed")),
        ("state", ("model b", "FAILED", "Failed")),
        ("state", ("test not_null_b", "COMPLETED", "Skipped")),
        ("state", ("unit_test b_adds", "CRASHED", "Crashed")),
    ]
    # each sits in the step's task run and waits for the upstream nodes it reported
    assert all(i["__parents__"][0].id == STEP for i in client.inputs.values())
    names = {run_id: name for run_id, name in client.runs.items()}
    waits = {k: [names[r.id] for r in v["wait_for"]] for k, v in client.inputs.items()}
    assert waits == {
        "model a": [],
        "model b": ["model a"],
        "test not_null_b": ["model b"],
        "unit_test b_adds": ["model b"],
    }
    # the node's lines in its own log, the rest in the step's; no row value anywhere
    lines = [(r.name, r.getMessage()) for r in records]
    assert ("prefect.task_runs", "1 of 4 OK created model a") in lines
    assert ("tests.step", "Running with dbt=1.11") in lines
    assert ("prefect.task_runs", "Conversion Error: Could not convert string … to INT") in lines
    assert "maria@example.com" not in repr(lines) + repr(client.messages)


def test_an_api_that_fails_is_logged_once_and_not_called_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = FakeClient(fail=True)
    events = [event("NodeStart", f"model.p.m{i}") for i in range(50)]
    with caplog.at_level(logging.WARNING):
        reporter = report(client, events)
    assert not reporter.is_alive()
    assert client.calls == [("create", "model m0")]  # the build is not held up by retries
    warned = [r.getMessage() for r in caplog.records if r.name == "olist_elt.transform.dbt_nodes"]
    assert warned == ["dbt nodes not reported to Prefect: connection refused"]


def test_an_api_that_does_not_keep_up_holds_the_build_up_no_longer_than_the_patience(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = FakeClient(slow=0.2)
    events = [event("NodeStart", f"model.p.m{i}") for i in range(50)]  # 10 s of calls
    with caplog.at_level(logging.WARNING):
        reporter = report(client, events, patience=0.5)
    sent = len(client.calls)
    assert sent < len(events)  # close returned with the queue still waiting
    reporter.join(5)  # the call under way ends; nothing more is sent
    assert not reporter.is_alive() and len(client.calls) <= sent + 1
    warned = [r.getMessage() for r in caplog.records if r.name == "olist_elt.transform.dbt_nodes"]
    assert warned == ["dbt nodes not all reported to Prefect: the API did not keep up in 0.5 s"]

"""Finding the raw objects a failure is due to, with trial builds stood in by a rule
(which held-back sets pass): the bisection's answers, and no blame when a trial does
not fail the way the run did."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

import olist_elt.run.isolation as isolation
from olist_elt.transform import project


class Boom(Exception):
    pass


def _objects(*names: str) -> list[Any]:
    return [SimpleNamespace(sha256=name, object_key=f"raw/olist/{name}") for name in names]


# the full rebuilds an _isolate call asked of the next run
requests: list[str] = []


def _isolate(
    monkeypatch: pytest.MonkeyPatch,
    pending: list[Any],
    bad: set[str],
    trials: list | None = None,
    failure: Exception | None = None,
    full_refresh: str | None = None,
) -> list[str]:
    """isolate() of failure (an error: Boom) where a trial passes when every object of
    `bad` is held back; the `through` each trial got is checked too, and each trial's
    held set kept."""
    monkeypatch.setattr(isolation, "pending_objects", lambda ctx: pending)

    def trial(ctx: Any, held: list[Any], scope: isolation.TrialScope) -> bool:
        assert scope == isolation.TrialScope("silver")  # no nodes named: whole layers
        if trials is not None:
            trials.append(sorted(r.sha256 for r in held))
        return bad <= {r.sha256 for r in held}

    monkeypatch.setattr(isolation, "trial_passes", trial)
    failure = failure or Boom("gate")
    requests.clear()
    monkeypatch.setattr(
        isolation.state, "require_full_refresh", lambda settings, why: requests.append(why)
    )
    ctx: Any = SimpleNamespace(settings=None, summary=SimpleNamespace(full_refresh=full_refresh))
    return [r.sha256 for r in isolation.isolate(ctx, failure, "silver")]


def test_the_bisection_finds_each_bad_object_among_good_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pending = _objects("a", "b", "c", "d", "e")
    assert _isolate(monkeypatch, pending, {"b", "e"}) == ["b", "e"]
    assert _isolate(monkeypatch, pending, {"c"}) == ["c"]


def test_objects_each_shown_to_fail_take_no_further_trial(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Both objects fail alone: both are blamed after three trials (all held back,
    then each half alone), without a fourth with everything included."""
    trials: list = []
    assert _isolate(monkeypatch, _objects("a", "b"), {"a", "b"}, trials) == ["a", "b"]
    assert trials == [["a", "b"], ["b"], ["a"]]


def test_no_object_is_blamed_when_no_trial_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every trial passes, all objects included: the failure does not come back in a
    trial (it is not the data's), so nothing is rejected and the failure is raised."""
    with pytest.raises(Boom):
        _isolate(monkeypatch, _objects("a", "b", "c"), set())


def test_one_pending_object_is_blamed_for_an_error_only_when_a_trial_with_it_fails_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The build errored with one new object and passes without it. It is blamed once
    a trial with it fails again; when that trial passes (a deadlock, a session the
    database ended: nothing a sign names), the failure is raised and nothing is
    rejected. A failure that counted the data's rows (a test's failing rows) in a
    full refresh needs no second trial: the trial, a full refresh too, builds the same
    rows. In an incremental build it does: the rows depended on the tables it kept."""
    from olist_elt.errors import DbtStepFailed

    trials: list = []
    assert _isolate(monkeypatch, _objects("a"), {"a"}, trials) == ["a"]
    assert trials == [["a"], []]  # held back, then with it
    trials.clear()
    with pytest.raises(Boom):
        _isolate(monkeypatch, _objects("a"), set(), trials)
    assert trials == [["a"], []]
    # the failing build was incremental: the next run rebuilds from all of raw
    assert requests == ["a failure of an incremental build did not come back in a full one"]
    with pytest.raises(Boom):
        _isolate(monkeypatch, _objects("a"), set(), full_refresh="a reason")
    assert requests == []  # a full rebuild failed: another one is no remedy
    trials.clear()
    counted = DbtStepFailed("a test failed", ("test.p.not_null_x.1a",), counted=True)
    # the whole layer: the test's own nodes are not what this checks
    monkeypatch.setattr(isolation, "trial_scope", lambda ctx, f, t: isolation.TrialScope(t))
    assert _isolate(monkeypatch, _objects("a"), {"a"}, trials, counted, "a reason") == ["a"]
    assert trials == [["a"]]
    trials.clear()
    with pytest.raises(DbtStepFailed):  # incremental: the full rebuild with it passes
        _isolate(monkeypatch, _objects("a"), set(), trials, counted)
    assert trials == [["a"], []]


def test_what_a_failure_counted_is_told_from_an_error() -> None:
    from olist_elt.errors import DbtStepFailed
    from olist_elt.quality.gates import CheckReport, GateFailed, GateReport

    def gate(*outcomes: str) -> GateFailed:
        checks = [
            CheckReport("orders", "c", kind, None, outcome, "fail", 1)
            for outcome, kind in (o.split(":") for o in outcomes)
        ]
        return GateFailed(GateReport(layer="silver", schema="silver", checks=checks))

    assert isolation.counted_rows(DbtStepFailed("x", ("test.a",), counted=True))
    assert not isolation.counted_rows(DbtStepFailed("x", ("model.a",)))
    assert isolation.counted_rows(gate("failed:missing", "failed:invalid"))
    assert not isolation.counted_rows(gate("failed:missing", "error:invalid"))
    # a trial's gate lets a row count pass (an empty data set): no trial repeats it
    assert not isolation.counted_rows(gate("failed:row_count"))
    assert not isolation.counted_rows(Boom("x"))


def test_a_failure_with_nothing_pending_is_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(Boom):
        _isolate(monkeypatch, [], {"a"})


def _ctx(**nodes: str) -> Any:
    """A run context whose manifest holds these nodes (unique id: resource type)."""
    manifest = SimpleNamespace(
        nodes={
            uid: SimpleNamespace(name=uid.split(".")[2], resource_type=kind)
            for uid, kind in nodes.items()
        }
    )
    # an incremental build failed (no full refresh)
    return SimpleNamespace(
        target=SimpleNamespace(manifest=manifest), summary=SimpleNamespace(full_refresh=None)
    )


def test_a_trial_builds_the_nodes_a_lake_failure_names_and_whole_layers_otherwise() -> None:
    from olist_elt.errors import DbtStepFailed
    from olist_elt.quality.gates import CheckReport, GateFailed, GateReport

    ctx = _ctx(**{"model.p.silver_orders": "model", "test.p.not_null_x.1a": "test"})
    failed = DbtStepFailed("x", ("test.p.not_null_x.1a", "model.p.silver_orders"))
    scope = isolation.trial_scope(ctx, failed, "silver")
    assert scope == isolation.TrialScope("silver", ("not_null_x", "silver_orders"))
    # gold and the reconciliation (through None) build every layer
    assert isolation.trial_scope(ctx, failed, None) == isolation.TrialScope(None)
    # a node a trial cannot select by name (a unit test) keeps whole layers
    unit = DbtStepFailed("x", ("unit_test.p.silver_orders.t",))
    assert isolation.trial_scope(ctx, unit, "silver") == isolation.TrialScope("silver")

    def gate_failed(dataset: str) -> GateFailed:
        check = CheckReport(dataset, "c", "missing", "order_id", "failed", "fail", None)
        return GateFailed(GateReport(layer="silver", schema="silver", checks=[check]))

    scope = isolation.trial_scope(ctx, gate_failed("silver_orders"), "silver")
    assert scope == isolation.TrialScope("silver", ("silver_orders",), gated=True)
    assert isolation.trial_scope(ctx, gate_failed("no_such_model"), "silver") == (
        isolation.TrialScope("silver")
    )


def _graph() -> Any:
    """A run context whose dbt graph has two sources, their bronze models, silver
    orders (from bronze orders), and a test on silver orders."""
    ctx = _ctx(
        **{
            "model.p.bronze_orders": "model",
            "model.p.bronze_items": "model",
            "model.p.silver_orders": "model",
            "test.p.not_null_x.1a": "test",
        }
    )
    parents = {
        "model.p.bronze_orders": ["source.p.olist.orders"],
        "model.p.bronze_items": ["source.p.olist.order_items"],
        "model.p.silver_orders": ["model.p.bronze_orders"],
        "test.p.not_null_x.1a": ["model.p.silver_orders"],
    }
    for uid, node in ctx.target.manifest.nodes.items():
        node.depends_on = SimpleNamespace(nodes=parents[uid])
        # the (source, table) pairs its source() calls name, as dbt records them
        node.sources = [p.split(".")[2:] for p in parents[uid] if p.startswith("source.")]
    return ctx


def _record(sha: str, dataset: str, source: str = "olist") -> Any:
    return SimpleNamespace(sha256=sha, source=source, dataset=dataset, object_key=sha)


def test_only_the_objects_of_the_sources_upstream_of_a_named_failure_are_suspects(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A test on silver orders fails: the orders files are the only suspects (its
    graph reads no other source); the items and weather files arrived with them are
    never held back, and the bad orders file is found among its peers."""
    from olist_elt.errors import DbtStepFailed

    ctx = _graph()
    manifest = ctx.target.manifest
    assert project.upstream_sources(manifest, ("not_null_x",)) == {("olist", "orders")}
    assert project.upstream_sources(manifest, ("bronze_items", "silver_orders")) == {
        ("olist", "orders"),
        ("olist", "order_items"),
    }
    pending = [
        _record("o1", "orders"),
        _record("i1", "order_items"),
        _record("o2", "orders"),
        _record("w1", "current", "openweather"),
        _record("o3", "orders"),
    ]
    monkeypatch.setattr(isolation, "pending_objects", lambda ctx: pending)
    held_sets: list[list[str]] = []

    def trial(ctx: Any, held: list[Any], scope: isolation.TrialScope) -> bool:
        assert scope == isolation.TrialScope("silver", ("not_null_x",))
        held_sets.append(sorted(r.sha256 for r in held))
        return "o2" in {r.sha256 for r in held}

    monkeypatch.setattr(isolation, "trial_passes", trial)
    failed = DbtStepFailed("x", ("test.p.not_null_x.1a",))

    blamed = isolation.isolate(ctx, failed, "silver")

    assert [r.sha256 for r in blamed] == ["o2"]
    assert held_sets[0] == ["o1", "o2", "o3"]  # every suspect, and nothing else
    assert all(set(h) <= {"o1", "o2", "o3"} for h in held_sets)


def test_a_named_failure_no_pending_object_feeds_blames_nothing_without_a_trial(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only items and weather files are pending and a test of silver orders fails:
    no trial can change its outcome, so the failure is raised and nothing is blamed."""
    from olist_elt.errors import DbtStepFailed

    pending = [_record("i1", "order_items"), _record("w1", "current", "openweather")]
    monkeypatch.setattr(isolation, "pending_objects", lambda ctx: pending)

    def trial(*args: Any) -> bool:
        raise AssertionError("no trial is needed")

    monkeypatch.setattr(isolation, "trial_passes", trial)
    failed = DbtStepFailed("silver orders' test failed", ("test.p.not_null_x.1a",))
    with pytest.raises(DbtStepFailed, match="silver orders"):
        isolation.isolate(_graph(), failed, "silver")


@pytest.mark.parametrize(
    ("bad", "held_first"),
    [
        # the bad orders file feeds the failing test: a trial without the orders files
        # passes, and the bisection runs among them alone
        ("o2", [["o1", "o2"], ["o2"], ["o1"]]),
        # the bad items file fails gold another way: the build still fails without the
        # orders files, so every pending object is a suspect again
        ("i1", [["o1", "o2"], ["i1", "o1", "o2"]]),
    ],
)
def test_a_gold_failure_first_suspects_the_objects_feeding_its_nodes(
    monkeypatch: pytest.MonkeyPatch, bad: str, held_first: list[list[str]]
) -> None:
    """Gold's trials build every layer and the reconciliation, so the sources upstream
    of the failing gold nodes are a guess a trial confirms: with it held back the
    build passes (the culprits are among it) or the search falls back to every
    pending object."""
    from olist_elt.errors import DbtStepFailed

    ctx = _graph()
    ctx.settings = None
    ctx.target.gold_manifest = ctx.target.manifest
    monkeypatch.setattr(isolation.state, "last_success", lambda settings: {"objects": []})
    pending = [_record("o1", "orders"), _record("i1", "order_items"), _record("o2", "orders")]
    monkeypatch.setattr(isolation, "pending_objects", lambda ctx: pending)
    held_sets: list[list[str]] = []

    def trial(ctx: Any, held: list[Any], scope: isolation.TrialScope) -> bool:
        assert scope == isolation.TrialScope(None)  # gold: every layer
        held_sets.append(sorted(r.sha256 for r in held))
        return bad in {r.sha256 for r in held}

    monkeypatch.setattr(isolation, "trial_passes", trial)
    failed = DbtStepFailed("x", ("test.p.not_null_x.1a",))

    assert [r.sha256 for r in isolation.isolate(ctx, failed, None)] == [bad]
    assert held_sets[: len(held_first)] == held_first

"""Both vault backends pass one suite; rotation and bad keys on the file backend."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from olist_elt.security.audit import AuditLog
from olist_elt.security.exceptions import (
    BadVaultKey,
    MissingSecret,
    VaultUnavailable,
    VaultWriteConflict,
)
from olist_elt.security.vault import FileVault, HashiCorpVault, new_pii_key

TOKEN = "s.test-token"


class FakeKv2:
    """The KV v2 endpoints hvac uses: read, create/update, list; token checked;
    check-and-set as Vault does it, required on every write when cas_required (the
    mount's own setting)."""

    def __init__(self) -> None:
        self.secrets: dict[str, list[dict]] = {}
        self.calls: list[tuple[str, str]] = []
        self.cas_required = False

    def handle(self, request: Request) -> Response:
        self.calls.append((request.method, request.path))
        if request.headers.get("X-Vault-Token") != TOKEN:
            return Response(
                json.dumps({"errors": ["permission denied"]}), 403, content_type="application/json"
            )
        data = re.match(r"^/v1/secret/data/(.+)$", request.path)
        meta = re.match(r"^/v1/secret/metadata/(.+?)/?$", request.path)
        if data and request.method == "GET":
            versions = self.secrets.get(data.group(1))
            if not versions:
                return Response(json.dumps({"errors": []}), 404, content_type="application/json")
            body = {
                "data": {
                    "data": versions[-1],
                    "metadata": {"version": len(versions), "deletion_time": ""},
                }
            }
            return Response(json.dumps(body), 200, content_type="application/json")
        if data and request.method in ("POST", "PUT"):
            payload = json.loads(request.get_data())
            cas = payload.get("options", {}).get("cas")
            if cas is None and self.cas_required:
                message = "check-and-set parameter required for this call"
                return Response(
                    json.dumps({"errors": [message]}), 400, content_type="application/json"
                )
            if cas is not None and cas != len(self.secrets.get(data.group(1), [])):
                message = "check-and-set parameter did not match the current version"
                return Response(
                    json.dumps({"errors": [message]}), 400, content_type="application/json"
                )
            self.secrets.setdefault(data.group(1), []).append(payload["data"])
            body = {"data": {"version": len(self.secrets[data.group(1)])}}
            return Response(json.dumps(body), 200, content_type="application/json")
        if meta and (request.method == "LIST" or request.args.get("list") == "true"):
            prefix = meta.group(1) + "/"
            keys = sorted(
                {k[len(prefix) :].split("/")[0] for k in self.secrets if k.startswith(prefix)}
            )
            if not keys:
                return Response(json.dumps({"errors": []}), 404, content_type="application/json")
            return Response(
                json.dumps({"data": {"keys": keys}}), 200, content_type="application/json"
            )
        return Response(
            json.dumps({"errors": ["unsupported"]}), 405, content_type="application/json"
        )


@pytest.fixture()
def kv(httpserver: HTTPServer) -> FakeKv2:
    fake = FakeKv2()
    httpserver.expect_request(re.compile(r"^/v1/.*"), method="GET").respond_with_handler(
        fake.handle
    )
    for method in ("POST", "PUT", "LIST"):
        httpserver.expect_request(re.compile(r"^/v1/.*"), method=method).respond_with_handler(
            fake.handle
        )
    return fake


@pytest.fixture(params=["file", "hashicorp"])
def vault(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    audit = AuditLog(tmp_path / "audit.jsonl")
    if request.param == "file":
        yield FileVault.open_or_create(tmp_path / "v.json", tmp_path / "v.key", audit)
    else:
        fake = request.getfixturevalue("kv")
        server = request.getfixturevalue("httpserver")
        yield HashiCorpVault(server.url_for("/").rstrip("/"), TOKEN, audit=audit)
        assert fake.calls  # the backend really talked to the server


def test_set_then_get_returns_the_value_and_audits_the_read(vault, tmp_path: Path) -> None:
    vault.set("api_key", "s3cr3t-välue", actor="test")
    assert vault.get("api_key", actor="svc-x") == "s3cr3t-välue"
    records = AuditLog(tmp_path / "audit.jsonl").records()
    assert ("svc-x", "secret.read", "api_key") in [
        (r["actor"], r["action"], r["object"]) for r in records
    ]
    assert "s3cr3t" not in (tmp_path / "audit.jsonl").read_text()


def test_names_lists_names_only(vault) -> None:
    vault.set("b", "2")
    vault.set("a", "1")
    assert vault.names() == ["a", "b"]


def test_a_missing_secret_is_a_clear_error(vault) -> None:
    with pytest.raises(MissingSecret, match="olist-elt vault set nope"):
        vault.get("nope")


def test_ensure_creates_once(vault) -> None:
    vault.ensure("k", lambda: "first")
    vault.ensure("k", lambda: "second")
    assert vault.get("k") == "first"


def test_ensure_keeps_the_first_writers_value_when_another_writes_in_between(
    kv: FakeKv2, httpserver: HTTPServer
) -> None:
    """HashiCorp Vault: another process writes the secret between ensure's check and its
    write; check-and-set keeps theirs, so both sides use one value."""
    url = httpserver.url_for("/").rstrip("/")
    ours, theirs = HashiCorpVault(url, TOKEN), HashiCorpVault(url, TOKEN)

    def racing_factory() -> str:
        theirs.set("pii_hmac_key", "theirs")
        return "ours"

    ours.ensure("pii_hmac_key", racing_factory)
    assert ours.get("pii_hmac_key") == theirs.get("pii_hmac_key") == "theirs"
    assert len(kv.secrets["olist-elt/pii_hmac_key"]) == 1


def test_every_write_works_on_a_mount_that_requires_check_and_set(
    kv: FakeKv2, httpserver: HTTPServer
) -> None:
    """A KV mount with cas_required refuses a write without check-and-set: a new secret,
    a new version of one and ensure's bootstrap all send it."""
    kv.cas_required = True
    vault = HashiCorpVault(httpserver.url_for("/").rstrip("/"), TOKEN)
    vault.set("api_key", "v1")
    vault.set("api_key", "v2")
    vault.ensure("pii_hmac_key", lambda: "made")
    assert vault.get("api_key") == "v2" and vault.get("pii_hmac_key") == "made"
    assert len(kv.secrets["olist-elt/api_key"]) == 2


def test_a_write_another_writer_overtook_is_refused_and_theirs_stands(
    kv: FakeKv2, httpserver: HTTPServer, tmp_path: Path
) -> None:
    """Another writer stores a new version between set's read of the version and its
    write: set fails clearly and audits nothing; the other writer's value is not lost."""
    url = httpserver.url_for("/").rstrip("/")
    audit = AuditLog(tmp_path / "audit.jsonl")
    ours, theirs = HashiCorpVault(url, TOKEN, audit=audit), HashiCorpVault(url, TOKEN)
    theirs.set("api_key", "old")
    read_version = ours._version

    def version_then_theirs(name: str) -> int:
        version = read_version(name)
        theirs.set(name, "theirs")
        return version

    ours._version = version_then_theirs  # type: ignore[method-assign]
    with pytest.raises(VaultWriteConflict, match="another writer changed it meanwhile"):
        ours.set("api_key", "ours")
    assert theirs.get("api_key") == "theirs"
    assert [v["value"] for v in kv.secrets["olist-elt/api_key"]] == ["old", "theirs"]
    assert not audit.records()


def test_vault_set_on_a_check_and_set_mount_stores_each_version_and_refuses_an_overtaken_one(
    kv: FakeKv2, httpserver: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The operator's `olist-elt vault set` on a mount with cas_required: a new secret
    and a new version are stored and audited; when another writer gets in between, the
    command fails naming what happened, keeps their value and audits nothing more."""
    from typer.testing import CliRunner

    from olist_elt.cli import app

    kv.cas_required = True
    url = httpserver.url_for("/").rstrip("/")
    env = {
        "OLIST_HOME": str(tmp_path),
        "OLIST_VAULT_BACKEND": "hashicorp",
        "OLIST_VAULT_URL": url,
        "VAULT_TOKEN": TOKEN,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    def vault_set(value: str) -> object:
        return CliRunner().invoke(app, ["vault", "set", "api_key", "--stdin"], input=value)

    for value in ("v1", "v2"):
        stored = vault_set(value)
        assert stored.exit_code == 0 and "stored api_key" in stored.output, stored.output
    audit = AuditLog(tmp_path / "lake" / "_audit" / "audit.jsonl")
    writes = [r for r in audit.records() if r["action"] == "secret.write"]
    assert [(r["object"], r["actor"]) for r in writes] == [("api_key", "cli")] * 2

    read_version = HashiCorpVault._version

    def version_then_theirs(self: HashiCorpVault, name: str) -> int:
        version = read_version(self, name)
        monkeypatch.setattr(HashiCorpVault, "_version", read_version)  # theirs reads as is
        HashiCorpVault(url, TOKEN).set("api_key", "theirs")
        return version

    monkeypatch.setattr(HashiCorpVault, "_version", version_then_theirs)
    refused = vault_set("ours")
    assert refused.exit_code == 1
    said = " ".join(refused.output.split())  # one line, however the console wrapped it
    assert "did not write api_key: another writer changed it meanwhile" in said, said
    assert TOKEN not in refused.output and "ours" not in refused.output
    assert [v["value"] for v in kv.secrets["olist-elt/api_key"]] == ["v1", "v2", "theirs"]
    assert [r for r in audit.records() if r["action"] == "secret.write"] == writes


def _open_and_ensure(folder: str, barrier: object, out: str) -> None:
    barrier.wait(60)  # type: ignore[attr-defined]
    vault = FileVault.open_or_create(Path(folder) / "v.json", Path(folder) / "v.key")
    vault.ensure("pii_hmac_key", new_pii_key)
    Path(out).write_text(vault.get("pii_hmac_key"))


def test_processes_opening_a_new_file_vault_at_once_agree_on_one_key(tmp_path: Path) -> None:
    """Six processes create the same new vault and its PII key at the same moment: none
    fails, and all of them (and the vault afterwards) hold one and the same key."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(6)
    outs = [tmp_path / f"out{i}" for i in range(6)]
    procs = [
        context.Process(target=_open_and_ensure, args=(str(tmp_path / "s"), barrier, str(out)))
        for out in outs
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
    assert [proc.exitcode for proc in procs] == [0] * 6
    vault = FileVault(tmp_path / "s" / "v.json", tmp_path / "s" / "v.key")
    assert {out.read_text() for out in outs} == {vault.get("pii_hmac_key")}
    assert vault.names() == ["pii_hmac_key"]
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == [".v.json.lock", "v.json", "v.key"]


def test_overwriting_keeps_the_latest_value(vault) -> None:
    vault.set("k", "v1")
    vault.set("k", "v2")
    assert vault.get("k") == "v2"


def test_hashicorp_with_a_bad_token_is_refused_clearly(kv: FakeKv2, httpserver: HTTPServer) -> None:
    bad = HashiCorpVault(httpserver.url_for("/").rstrip("/"), "wrong")
    with pytest.raises(VaultUnavailable, match="permission denied"):
        bad.get("anything")


def test_file_vault_is_encrypted_and_private(tmp_path: Path) -> None:
    v = FileVault.open_or_create(tmp_path / "v.json", tmp_path / "v.key")
    v.set("db_password", "hunter2-long-secret")
    assert b"hunter2" not in (tmp_path / "v.json").read_bytes()
    assert (tmp_path / "v.key").stat().st_mode & 0o077 == 0
    assert (tmp_path / "v.json").stat().st_mode & 0o077 == 0


def test_rotation_keeps_every_secret_and_makes_the_old_key_useless(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.jsonl")
    v = FileVault.open_or_create(tmp_path / "v.json", tmp_path / "v.key", audit)
    values = {f"s{i}": f"value-{i}" for i in range(5)}
    for k, val in values.items():
        v.set(k, val)
    old_key = (tmp_path / "v.key").read_bytes().strip()
    assert v.rotate(actor="ops") == 5
    new_key = (tmp_path / "v.key").read_bytes().strip()
    assert new_key != old_key and b"\n" not in new_key  # old key retired from the file
    assert {k: v.get(k) for k in values} == values
    (tmp_path / "old.key").write_bytes(old_key)
    with pytest.raises(BadVaultKey, match="cannot be decrypted"):
        FileVault(tmp_path / "v.json", tmp_path / "old.key").get("s0")
    assert [r["action"] for r in audit.records()].count("vault.rotate") == 1


def test_reading_a_vault_that_does_not_exist_creates_nothing(tmp_path: Path) -> None:
    vault = FileVault(tmp_path / "none" / "v.json", tmp_path / "none" / "v.key")
    assert vault.names() == []
    with pytest.raises(MissingSecret):
        vault.get("pii_hmac_key")
    assert not (tmp_path / "none").exists()


def test_a_wrong_vault_key_fails_with_a_clear_error(tmp_path: Path) -> None:
    v = FileVault.open_or_create(tmp_path / "v.json", tmp_path / "v.key")
    v.set("x", "y")
    (tmp_path / "other.key").write_bytes(Fernet.generate_key())
    with pytest.raises(BadVaultKey, match="use the key the vault was written with"):
        FileVault(tmp_path / "v.json", tmp_path / "other.key").get("x")
    (tmp_path / "garbage.key").write_text("not a key")
    with pytest.raises(BadVaultKey, match="valid Fernet key"):
        FileVault(tmp_path / "v.json", tmp_path / "garbage.key").get("x")
    with pytest.raises(BadVaultKey, match="missing"):
        FileVault(tmp_path / "v.json", tmp_path / "absent.key").get("x")


def test_a_read_only_vault_serves_its_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A vault on a read-only mount (provisioned by ops): reads, and ensure of a secret
    it holds, work without a lock file; a change is refused by the file system."""
    import errno
    import os

    folder = tmp_path / "ro"
    vault = FileVault.open_or_create(folder / "v.json", folder / "v.key")
    vault.ensure("pii_hmac_key", lambda: "k1")
    (folder / ".v.json.lock").unlink()
    real_open = os.open

    def read_only_mount(path: object, flags: int, *args: object) -> int:
        if Path(str(path)).parent == folder and flags & (os.O_CREAT | os.O_WRONLY | os.O_RDWR):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", read_only_mount)
    vault.ensure("pii_hmac_key", lambda: "k2")
    assert vault.get("pii_hmac_key") == "k1" and vault.names() == ["pii_hmac_key"]
    with pytest.raises(OSError, match="Read-only file system"):
        vault.set("other", "x")
    assert not (folder / ".v.json.lock").exists()

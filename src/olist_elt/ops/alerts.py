"""Alerts: a failed or stale run reaches a person through the configured channels: a
webhook (JSON POST), e-mail over SMTP, and a file of JSON lines for local use."""

from __future__ import annotations

import json
import logging
import smtplib
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import httpx
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from olist_elt.settings import Settings

log = logging.getLogger(__name__)
SMTP_SECRET = "smtp_password"

# What to do, by the kind of the step that failed; some errors say more than their kind.
ADVICE_BY_ERROR = {
    "SourcesStale": "A source stopped delivering: check its connector's deployment and "
    "last flow runs in the Prefect UI, then the source itself; `olist-elt status` shows "
    "ages.",
    "InputRejected": "The connector refused input: see the quarantine reason in the run "
    "record, fix the file and run again.",
    "ReconciliationFailed": "Rows went missing between layers with no counted reason: "
    "compare the layers named in the reconciliation of the run record before trusting gold.",
    "DbtProjectError": "The dbt project does not parse or compile: fix the model or macro "
    "named in the error; no data was blamed.",
    "WarehouseError": "PostgreSQL could not be reached or updated (no data was blamed): is "
    "it running, did `olist-elt warehouse roles` run, is the password in the vault?",
    "InfrastructureFailed": "A service failed, not the data (a lock, a connection, the "
    "disk, the lake's storage, a server; the error names it): nothing was rejected and "
    "gold keeps the last good data. Fix that cause and run again.",
    "VaultUnavailable": "HashiCorp Vault did not answer or refused the token (no data was "
    "blamed): check OLIST_VAULT_URL, VAULT_TOKEN and its policy, then run again.",
    "BadVaultKey": "The vault cannot be decrypted with its key file (no data was blamed): "
    "restore the key the vault was written with, then run again.",
    "RawObjectsChanged": "Raw objects were deleted, rewritten or added outside olist-elt, "
    "where only registered connectors may write (nothing was rejected, gold keeps the last "
    "good data): `olist-elt raw verify` lists them, each with what to do (restore it from "
    "its source or a backup, or reject it: `olist-elt raw reject <sha256>`; record a lost "
    "one: `raw forget`; delete a stray); run again, and find who wrote there.",
}
ADVICE_BY_KIND = {
    "io": "A connection, the network or storage failed (no data was blamed): check the "
    "service named in the error and run again.",
    "gate": "A quality gate stopped the batch (it was rejected, gold keeps the last good "
    "data): read the failed checks, fix the source, then `olist-elt raw readmit <run_id>` "
    "or deliver a corrected file.",
    "transform": "A dbt model or test failed: open the compiled SQL named in the error, fix "
    "the data or the model, and run again.",
    "publish": "Publishing failed: gold still serves the previous run; check the warehouse "
    "connection and run again.",
    "bookkeeping": "The run could not record or decide what to do: see the run record and the log.",
}


@dataclass
class Alert:
    """What a person needs: which run, which step failed or which source is stale, and
    what to do."""

    event: str  # run_failed | sources_stale | batch_rejected | raw_changed
    run_id: str
    target: str
    failing_step: str | None
    error_class: str | None
    message: str
    what_to_do: str
    run_record: str
    stale_sources: list[dict[str, Any]] = field(default_factory=list)
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def subject(self) -> str:
        if self.event == "sources_stale":
            names = ", ".join(s["source"] for s in self.stale_sources)
            return f"[olist-elt] stale data: {names} (run {self.run_id})"
        if self.event == "batch_rejected":
            return f"[olist-elt] run {self.run_id} rejected bad raw objects and went on"
        if self.event == "raw_changed":
            return f"[olist-elt] raw objects changed outside olist-elt ({self.run_id})"
        where = f"at {self.failing_step}" if self.failing_step else "before its first step"
        return f"[olist-elt] run {self.run_id} failed {where}"


def advice_for(kind: str | None, error_class: str | None = None) -> str:
    """What to do after a failure: by the error when it says more, else by the kind of
    the step that failed (never by its name)."""
    if error_class in ADVICE_BY_ERROR:
        return ADVICE_BY_ERROR[error_class]
    if kind in ADVICE_BY_KIND:
        return ADVICE_BY_KIND[kind]
    return "See the run record and the log; run again once the cause is fixed."


@retry(
    retry=retry_if_exception_type(httpx.TransportError),
    stop=stop_after_attempt(3),
    wait=wait_exponential(multiplier=0.5, max=4),
    reraise=True,
)
def _post(url: str, payload: dict[str, Any]) -> None:
    resp = httpx.post(url, json=payload, timeout=10)
    resp.raise_for_status()


def _email(settings: Settings, alert: Alert, password: str | None) -> None:
    message = EmailMessage()
    message["Subject"] = alert.subject
    message["From"] = settings.alert_email_from
    message["To"] = settings.alert_email_to
    message.set_content(
        f"{alert.message}\n\nWhat to do: {alert.what_to_do}\n\nRun record: {alert.run_record}\n"
    )
    with smtplib.SMTP(settings.alert_smtp_host, settings.alert_smtp_port, timeout=15) as smtp:
        if settings.alert_smtp_starttls:
            smtp.starttls()
        if settings.alert_smtp_user and password:
            smtp.login(settings.alert_smtp_user, password)
        smtp.send_message(message)


def send_alert(settings: Settings, alert: Alert) -> list[str]:
    """Deliver to every configured channel; a channel that fails is logged, never
    raised (the run's own outcome stands). Returns the channels that took it."""
    delivered: list[str] = []
    payload = asdict(alert) | {"subject": alert.subject}
    if settings.alert_file:
        settings.alert_file.parent.mkdir(parents=True, exist_ok=True)
        with open(settings.alert_file, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(payload) + "\n")
        delivered.append("file")
    if settings.alert_webhook_url:
        try:
            _post(settings.alert_webhook_url, payload)
            delivered.append("webhook")
        except httpx.HTTPError as exc:
            log.error("alert webhook failed: %s", exc)
    if settings.alert_email_to:
        password = None
        if settings.alert_smtp_user:
            from olist_elt.security.audit import AuditLog
            from olist_elt.security.vault import open_vault

            password = open_vault(settings, AuditLog(settings.audit_path)).get(
                SMTP_SECRET, actor="svc-alerts"
            )
        try:
            _email(settings, alert, password)
            delivered.append("email")
        except (OSError, smtplib.SMTPException) as exc:
            log.error("alert e-mail failed: %s", exc)
    if not delivered:
        log.warning("no alert channel configured (OLIST_ALERT_*): %s", alert.subject)
    return delivered

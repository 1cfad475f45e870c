"""Shared HTTP behaviour of the API connectors: timeouts, bounded retries, clear errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from olist_elt.connectors.text import nul_at, nul_message
from olist_elt.errors import OlistEltError

TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class ConnectorError(OlistEltError):
    """A source answered with an error the connector cannot work around."""


class BadPayload(ConnectorError):
    """The payload is not the JSON shape the connector expects; nothing was written."""


class Retryable(Exception):
    """A transient failure (5xx, 429, network) worth another try."""

    def __init__(self, message: str, wait_s: float | None = None) -> None:
        super().__init__(message)
        self.wait_s = wait_s


def _wait(max_wait_s: float) -> Callable[[Any], float]:
    """Exponential backoff, or the server's Retry-After when it gave one (bounded)."""
    backoff = wait_exponential(multiplier=0.5, max=max_wait_s)

    def wait(state: Any) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, Retryable) and exc.wait_s is not None:
            return min(exc.wait_s, max_wait_s)
        return backoff(state)

    return wait


def get_json(
    client: httpx.Client,
    url: str,
    params: dict[str, Any],
    *,
    source: str,
    attempts: int = 4,
    max_wait_s: float = 8.0,
    on_error: Callable[[httpx.Response], None] | None = None,
    on_retry: Callable[[], None] | None = None,
) -> Any:
    """GET and parse JSON with bounded retries on 5xx, 429 and network errors;
    on_retry is told of each retry (the connector counts them)."""

    def once() -> Any:
        try:
            resp = client.get(url, params=params, timeout=TIMEOUT)
        except httpx.TransportError as exc:
            raise Retryable(f"{source}: {type(exc).__name__}: {exc}") from None
        if resp.status_code == 429:
            after = resp.headers.get("Retry-After")
            raise Retryable(
                f"{source}: HTTP 429 (rate limited)",
                float(after) if after and after.isdigit() else None,
            )
        if resp.status_code >= 500:
            raise Retryable(f"{source}: HTTP {resp.status_code}")
        if resp.status_code >= 400:
            if on_error:
                on_error(resp)
            raise ConnectorError(f"{source}: HTTP {resp.status_code}: {resp.text[:300]}")
        try:
            body = resp.json()
        except (json.JSONDecodeError, ValueError, RecursionError):
            raise BadPayload(
                f"{source}: the answer is not valid JSON: {resp.text[:120]!r}"
            ) from None
        if (where := nul_at(body)) is not None:
            raise BadPayload(f"{source}: the answer holds {nul_message(where)}")
        return body

    retrying = Retrying(
        retry=retry_if_exception(lambda e: isinstance(e, Retryable)),
        stop=stop_after_attempt(attempts),
        wait=_wait(max_wait_s),
        before_sleep=(lambda _state: on_retry()) if on_retry else None,
        reraise=True,
    )
    try:
        return retrying(once)
    except Retryable as exc:
        raise ConnectorError(f"{exc} (gave up after {attempts} attempts)") from None

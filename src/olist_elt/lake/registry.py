"""The connector registry: the only callers the lake lands data for.

A connector is a registered class with a name, a version, a source and a service
identity; it reads its source and yields what it read (`RawItem`) or why it refused
something (`Refused`). It never writes: the lander (lake/lander.py) does."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, TypeVar

if TYPE_CHECKING:
    from olist_elt.lake.lander import LakeView


@dataclass(frozen=True)
class RawItem:
    """Something a connector read and validated, ready for raw: a file or bytes.

    rows None means the connector did not parse it because the lake already holds
    these bytes (the lander then records a duplicate)."""

    dataset: str
    ext: str
    name: str
    rows: int | None
    schema_version: str
    path: Path | None = None
    data: bytes | None = None
    sha256: str | None = None
    watermark: str | None = None


@dataclass(frozen=True)
class Refused:
    """Input a connector refused, with a machine-readable reason; it goes to
    quarantine, never to raw."""

    name: str
    reason: str
    detail: str
    path: Path | None = None
    data: bytes | None = None


Read = RawItem | Refused


class Connector:
    """Base of an official connector: name, version, identity, the one raw prefix it
    may fill, and `read` (or `aread` for an asynchronous source)."""

    name: ClassVar[str]
    version: ClassVar[str]
    source: ClassVar[str]
    service_identity: ClassVar[str]

    @property
    def raw_prefix(self) -> str:
        """The only prefix under raw/ this connector's items may land in."""
        return f"raw/{self.source}/"

    def read(self, lake: LakeView) -> Iterator[Read]:
        """Yield what was read; the lander lands each item before the next is asked."""
        raise NotImplementedError(f"{type(self).__name__} reads asynchronously: use aread")

    def aread(self, lake: LakeView) -> AsyncIterator[Read]:
        """The asynchronous form of read, for sources such as a message stream."""
        raise NotImplementedError(f"{type(self).__name__} reads synchronously: use read")


_REGISTRY: dict[str, type[Connector]] = {}

C = TypeVar("C", bound=type[Connector])


def register_connector(cls: C) -> C:
    """Class decorator: make a connector official. Names are unique."""
    existing = _REGISTRY.get(cls.name)
    if existing is not None and existing is not cls:
        raise ValueError(f"a connector named {cls.name!r} is already registered")
    _REGISTRY[cls.name] = cls
    return cls


def get_connector(name: str) -> type[Connector] | None:
    """The registered class of that name, if any."""
    return _REGISTRY.get(name)


def registered() -> dict[str, type[Connector]]:
    """A copy of the registry, name to class."""
    return dict(_REGISTRY)


def is_official(connector: object) -> bool:
    """True only for an instance of exactly the class registered under its name."""
    name = getattr(connector, "name", None)
    return isinstance(name, str) and type(connector) is _REGISTRY.get(name)

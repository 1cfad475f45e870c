"""The connector registry: the only callers the raw writer accepts."""

from __future__ import annotations

from typing import ClassVar, TypeVar


class Connector:
    """Base of an official connector: name, version, identity, the one raw prefix it writes."""

    name: ClassVar[str]
    version: ClassVar[str]
    source: ClassVar[str]
    service_identity: ClassVar[str]

    @property
    def raw_prefix(self) -> str:
        """The only prefix under raw/ this connector may write."""
        return f"raw/{self.source}/"


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

"""Security failures, each with a message that tells the operator what to do."""

from olist_elt.errors import OlistEltError


class SecurityError(OlistEltError):
    """Base class of the security failures."""


class MissingSecret(SecurityError):
    """A secret the step needs is not in the vault."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"secret {name!r} is not in the vault; add it with `olist-elt vault set {name}`"
        )


class BadVaultKey(SecurityError):
    """The vault cannot be decrypted with the key given."""


class RawWriteRefused(SecurityError):
    """Something that is not a registered connector tried to write to raw."""


class AuditChainBroken(SecurityError):
    """The audit log was edited, truncated or reordered."""

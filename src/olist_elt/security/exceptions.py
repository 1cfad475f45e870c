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


class VaultUnavailable(SecurityError):
    """HashiCorp Vault did not answer, failed, or refused olist-elt's token: a
    service, never the data, failed."""


class VaultWriteConflict(SecurityError):
    """A check-and-set write was refused: another writer changed the secret after
    its version was read (theirs stands, nothing was overwritten)."""


class RawWriteRefused(SecurityError):
    """Something that is not a registered connector tried to write to raw."""


class AuditChainBroken(SecurityError):
    """The audit log was edited, truncated or reordered."""

"""Constants of the Olist CSV connector."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from olist_elt.connectors.olist.files import OLIST_FILES

if TYPE_CHECKING:
    from olist_elt.settings import Settings

SOURCE = "olist"
SCHEMA_VERSION = "olist-csv-v1"
EXPECTED_FILES = {spec.file_name: spec for spec in OLIST_FILES.values()}
MAX_FILE_BYTES = 4 * 1024**3
DOWNLOAD_TIMEOUT_S = 60.0
RATIO_FLOOR_BYTES = 1024**2  # a member may always expand to this, whatever its ratio
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class ZipLimits:
    """How far a .zip input may expand: in all, and per member against its compressed
    size (OLIST_ZIP_MAX_BYTES, OLIST_ZIP_MAX_RATIO)."""

    max_bytes: int
    max_ratio: float

    @classmethod
    def from_settings(cls, settings: Settings) -> ZipLimits:
        """The limits the settings give."""
        return cls(settings.zip_max_bytes, settings.zip_max_ratio)

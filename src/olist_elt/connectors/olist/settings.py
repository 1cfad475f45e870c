"""Constants of the Olist CSV connector."""

from olist_elt.connectors.olist.files import OLIST_FILES

SOURCE = "olist"
SCHEMA_VERSION = "olist-csv-v1"
EXPECTED_FILES = {spec.file_name: spec for spec in OLIST_FILES.values()}
MAX_FILE_BYTES = 4 * 1024**3
DOWNLOAD_TIMEOUT_S = 60.0

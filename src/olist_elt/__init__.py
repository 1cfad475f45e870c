"""olist-elt: a secure, dbt-centric ELT pipeline for the Olist e-commerce data set."""

import os

# No phoning home, whichever entry point loads the package first (CLI, flow, a test,
# a Python shell): dbt, Soda and Prefect read these before they send anything.
for _name, _value in {
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "SODA_CORE_TELEMETRY_ENABLED": "false",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
}.items():
    os.environ.setdefault(_name, _value)

__version__ = "0.1.0"

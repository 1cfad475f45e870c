"""olist-elt: a secure, dbt-centric ELT pipeline for the Olist e-commerce data set."""

__version__ = "0.1.0"

"""The Olist-shaped sample data generator."""

from olist_elt.sample.generator import OLIST_FILES, generate_sample

__all__ = ["OLIST_FILES", "generate_sample"]

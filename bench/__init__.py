"""Benchmarks of olist-elt (see bench/README.md)."""

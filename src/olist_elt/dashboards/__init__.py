"""Dashboards as code: definitions in dashboards/*.yml, rendered to static HTML or
provisioned in Metabase from the same files."""

from olist_elt.dashboards.model import Card, Dashboard, Position, load_dashboards

__all__ = ["Card", "Dashboard", "Position", "load_dashboards"]

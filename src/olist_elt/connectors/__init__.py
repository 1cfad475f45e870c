"""Official connectors: registered, versioned classes with a service identity."""

from olist_elt.connectors.registry import Connector, get_connector, register_connector, registered

__all__ = ["Connector", "get_connector", "register_connector", "registered"]

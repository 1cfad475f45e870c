"""The official connectors, one package per source (olist, bcb, openweather, stream).

Each reads its source and yields what it read; the lake (lake/lander.py) lands it.
The registry they register with lives in the lake (lake/registry.py)."""

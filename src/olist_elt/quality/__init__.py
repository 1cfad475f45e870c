"""Quality gates: Soda Core contracts run from Python."""

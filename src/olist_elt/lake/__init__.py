"""The lake: storage backends, the raw writer, manifest and quarantine."""

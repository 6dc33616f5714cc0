"""The operator process: composition root, settings, HTTP server, certificates."""

"""Observability: structured logs with a request id, Prometheus metrics, progress on a terminal."""

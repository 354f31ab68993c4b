"""Operating the service: health, Prometheus metrics, request ids, one-line errors."""

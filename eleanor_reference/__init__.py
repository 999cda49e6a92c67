"""The reference ELEANOR-like service: the target the drills break and measure.

A small FastAPI service mirroring ELEANOR V8's interfaces (health, deliberation with a
hash-chained evidence log in PostgreSQL, Redis cache, JWT auth, rate limiting, Prometheus
metrics, recovery ground truth). Run a replica with
``python -m uvicorn drillbook.stack.reference_service.app:app --host 127.0.0.1 --port PORT``.

This package module imports nothing heavy: drills import the pure helpers from
`drillbook.stack.reference_service.evidence` (chain verification) and
`drillbook.stack.reference_service.auth` (`issue_token`) without building the app.
"""

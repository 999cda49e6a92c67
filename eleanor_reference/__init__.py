"""The reference ELEANOR-like service: the target the drills break and measure.

A small FastAPI service mirroring ELEANOR V8's interfaces (health, deliberation with a
hash-chained evidence log in PostgreSQL, Redis cache, JWT auth, rate limiting, Prometheus
metrics, recovery ground truth). Run a replica with
``python -m uvicorn eleanor_reference.app:app --host 127.0.0.1 --port PORT``.

It is not part of the drillbook library (install it with `pip install 'drillbook[embedded]'`):
drillbook never imports it. What both sides agree on (the evidence chain's genesis hash and
canonical JSON, the precedent collection and ids, the bearer tokens) lives in
`drillbook.core.contracts`, which this package imports.
"""

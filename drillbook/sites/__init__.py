"""Two sites of the embedded stack (a primary and a DR site), each in its own network namespace,
with replication between them, an off-site store, and a front door users reach."""

"""Scenario 2, database failure: the server killed or its data damaged; restart or restore."""

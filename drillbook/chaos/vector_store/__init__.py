"""Scenario 4, vector database (Weaviate) failure: killed and restarted; its data lost and
restored from the latest backup."""

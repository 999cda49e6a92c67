"""The vector store (the plan's scenario 4): Weaviate killed or its data destroyed; pod restart
or restore of the latest backup; the precedent ledger (its companion) and its four checks."""

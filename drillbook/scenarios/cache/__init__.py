"""The cache (the plan's scenario 3): the Redis master killed; pod restart, Sentinel's failover
confirmed, the old master rejoining; Redis connectivity, cache operations, hit rates."""

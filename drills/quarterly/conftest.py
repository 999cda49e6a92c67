"""The quarterly drills run each on a fresh two-site deployment (fixtures.sites): its
`drill_target` replaces the session's one-site embedded stack for the drills in this folder
only (a fixture defined here overrides the plugin's for this folder)."""

from fixtures.sites import drill_target, two_clusters, two_sites

__all__ = ["drill_target", "two_clusters", "two_sites"]

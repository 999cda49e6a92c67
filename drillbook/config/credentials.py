"""Credentials never printed back: an error message shows the value it refuses, and a value
may be a URL with `user:password@` in it (then printed, logged and kept by CI)."""

from __future__ import annotations

import re

# Anchored on the literal "://" so that a value of 100,000 characters is scanned once, not
# tried at every position.
_USERINFO = re.compile(r"://[^/@\s]*@")


def hide_credentials(text: str) -> str:
    """`scheme://user:password@host` -> `scheme://***@host`, wherever it appears in `text`."""
    return _USERINFO.sub("://***@", text)

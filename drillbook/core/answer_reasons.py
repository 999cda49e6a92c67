"""What an unexpected HTTP answer says about itself, in one short line.

Pure (json and re only), so that both the drill's probes and the Locust user of the load, which
runs in Locust's gevent-patched process, can name the reason a service or a proxy gave.
"""

from __future__ import annotations

import json
import re
from typing import Any

EXCERPT_CHARS = 160
# Keys under which services say why they answer unhealthy (ELEANOR's /health lists `errors`,
# FastAPI puts `detail`), and which replica answered: a red drill should say who failed and why.
_REASON_KEYS = ("errors", "error", "detail", "reason")
_ORIGIN_KEYS = ("replica", "pod", "hostname")
_MARKUP = re.compile(r"<[^>]*>")


def explain_body(body: bytes) -> str:
    """What an unexpected answer says about itself, shortened: the reasons a service gives in
    its JSON (and which replica answered), else the start of the text (a proxy's own 503 page
    says "no server is available", which tells a routing gap from a failing replica)."""
    try:
        document: Any = json.loads(body)
    except ValueError:
        text = body[: EXCERPT_CHARS * 4].decode("utf-8", "replace")
        return " ".join(_MARKUP.sub(" ", text).split())[:EXCERPT_CHARS]
    if not isinstance(document, dict):
        return json.dumps(document)[:EXCERPT_CHARS]
    parts = [f"{k} {document[k]}" for k in _ORIGIN_KEYS if isinstance(document.get(k), str)]
    parts += [f"{k}: {json.dumps(document[k])}" for k in _REASON_KEYS if k in document]
    return ("; ".join(parts) or json.dumps(document))[:EXCERPT_CHARS]

"""The drill report's PDF: its Markdown rendered to HTML (markdown-it-py), printed by headless
Chromium (`--print-to-pdf`), bounded by a timeout like every Chromium run of drillbook."""

from __future__ import annotations

import html
from pathlib import Path

from markdown_it import MarkdownIt

from drillbook.reporting.browser import BrowserError, run_chromium

__all__ = ["markdown_to_html", "print_pdf"]

PDF_TIMEOUT_SECONDS = 90.0
PDF_RENDER_WAIT_MS = 2000
"""Virtual time the page gets to lay out (images, fonts) before it is printed."""

_STYLE = """
body { font-family: 'DejaVu Sans', Arial, sans-serif; font-size: 11pt; margin: 1.5cm; }
h1 { font-size: 18pt; border-bottom: 2px solid #333; }
h2 { font-size: 14pt; margin-top: 1.4em; border-bottom: 1px solid #999; page-break-after: avoid; }
h3 { font-size: 12pt; margin-bottom: 0.3em; }
table { border-collapse: collapse; width: 100%; margin: 0.5em 0; }
th, td { border: 1px solid #bbb; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #eee; }
img { max-width: 100%; }
"""


def markdown_to_html(markdown: str, *, title: str) -> str:
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
        f"</title><style>{_STYLE}</style></head><body>{body}</body></html>"
    )


def print_pdf(markdown_file: Path, pdf_file: Path, *, timeout: float = PDF_TIMEOUT_SECONDS) -> Path:
    """Render `markdown_file` to `pdf_file`; images it names are looked up beside it."""
    source = Path(markdown_file).resolve()
    out = Path(pdf_file).resolve()
    page = source.with_suffix(".html")
    page.write_text(
        markdown_to_html(source.read_text(encoding="utf-8"), title=source.stem), encoding="utf-8"
    )
    out.unlink(missing_ok=True)  # a stale PDF must not pass for a fresh one
    run_chromium(
        ["--no-pdf-header-footer", f"--print-to-pdf={out}", page.as_uri()],
        PDF_RENDER_WAIT_MS,
        f"printing {out}",
        timeout=timeout,
    )
    # An exit status of 0 is not proof of a print: the file itself is.
    if not out.is_file() or out.stat().st_size == 0:
        raise BrowserError(f"headless Chromium printed no PDF at {out}")
    return out

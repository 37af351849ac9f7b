"""Server-side syntax highlighting with Pygments when it is installed, else an escaped <pre>."""

from __future__ import annotations

from django.utils.html import format_html
from django.utils.safestring import mark_safe


def highlighted(text: str, language: str) -> str:
    try:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import get_lexer_by_name
    except ImportError:
        return format_html('<pre class="yaml" tabindex="0">{}</pre>', text)
    formatter = HtmlFormatter(nowrap=True)
    body = highlight(text, get_lexer_by_name(language), formatter)
    return mark_safe(f'<pre class="yaml highlight" tabindex="0">{body}</pre>')  # noqa: S308 - Pygments escapes

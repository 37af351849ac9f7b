"""Capture the JSON log lines exactly as the configured stdout handler renders them."""

from __future__ import annotations

import contextlib
import io
import json
import logging

import structlog


@contextlib.contextmanager
def json_log_lines():
    """Yields a list that fills with the parsed JSON lines logged inside the block."""
    root = logging.getLogger()
    formatter = next(
        handler.formatter
        for handler in root.handlers
        if isinstance(handler.formatter, structlog.stdlib.ProcessorFormatter)
    )
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root.addHandler(handler)
    lines: list[dict] = []
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        lines.extend(json.loads(line) for line in stream.getvalue().splitlines() if line.strip())

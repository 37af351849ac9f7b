"""JSON log lines: captured in this process exactly as the configured stdout handler renders them,
or read from a child process's log file."""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import structlog


@contextlib.contextmanager
def rendered_log_lines() -> Iterator[list[str]]:
    """Yields a list that fills with the rendered lines (text) logged inside the block."""
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
    lines: list[str] = []
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        lines.extend(line for line in stream.getvalue().splitlines() if line.strip())


@contextlib.contextmanager
def json_log_lines() -> Iterator[list[dict]]:
    """Yields a list that fills with the parsed JSON lines logged inside the block."""
    lines: list[dict] = []
    with rendered_log_lines() as rendered:
        yield lines
    lines.extend(json.loads(line) for line in rendered)


def json_lines_of(path: Path) -> list[dict]:
    """The JSON lines of a process's log file (other output, such as tracebacks, is skipped)."""
    lines = []
    for raw in path.read_text(errors="replace").splitlines():
        raw = raw.strip()
        if raw.startswith("{"):
            try:
                lines.append(json.loads(raw))
            except json.JSONDecodeError:
                continue
    return lines

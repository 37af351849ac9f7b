"""Loopback ports for tests."""

from __future__ import annotations

import socket


def unused_port() -> int:
    """A loopback port nobody listens on (bound, then released): a client finds it closed, and a
    server started right after may take it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]

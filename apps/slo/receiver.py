"""The shared secret between Alertmanager and the lab's webhook receiver.

Both read one file (``PIMLAB_ALERT_RECEIVER_TOKEN_FILE``): Alertmanager as its webhook's
``authorization.credentials_file``, the receiver on each request (so rotating it needs no restart)."""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path

from django.conf import settings

from .errors import AlertReceiverNotConfigured, AlertReceiverTokenRefused


def alert_receiver_token_path() -> Path:
    return Path(settings.PIMLAB_ALERT_RECEIVER_TOKEN_FILE)


def alert_receiver_token_ensure(path: Path | None = None) -> Path:
    """Create the token file (mode 0600) unless it exists; return its path."""
    path = path or alert_receiver_token_path()
    if not path.exists() or not path.read_text().strip():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path


def alert_receiver_token_check(authorization: str) -> None:
    path = alert_receiver_token_path()
    expected = path.read_text().strip() if path.is_file() else ""
    if not expected:
        raise AlertReceiverNotConfigured(f"No receiver token at {path}.")
    scheme, _, given = authorization.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
        raise AlertReceiverTokenRefused()

"""The shared secret between Alertmanager and the lab's webhook receiver.

Both read one file (``PIMLAB_ALERT_RECEIVER_TOKEN_FILE``): Alertmanager as its webhook's
``authorization.credentials_file``, the receiver on each request (so rotating it needs no restart)."""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path

from django.conf import settings

from apps.core.api_errors import Problem


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
        raise Problem(
            status_code=503,
            title="Alert receiver not configured",
            detail=f"No receiver token at {path}.",
            remediation="Run `make observe` (it creates the token file Alertmanager and the lab share) "
            "or set PIMLAB_ALERT_RECEIVER_TOKEN_FILE to a file holding the token.",
            code="alert_receiver_not_configured",
        )
    scheme, _, given = authorization.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
        raise Problem(
            status_code=401,
            title="Alert receiver token missing or wrong",
            detail="The webhook needs `Authorization: Bearer <token>` with the receiver token.",
            remediation="Point Alertmanager's webhook `authorization.credentials_file` at "
            "PIMLAB_ALERT_RECEIVER_TOKEN_FILE (dashboards/prometheus/alertmanager.yml does).",
            code="alert_receiver_unauthorized",
        )

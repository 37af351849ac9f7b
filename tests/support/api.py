"""API clients as the personas use them."""

from __future__ import annotations

from rest_framework.test import APIClient


def api_client(token: str | None = None) -> APIClient:
    """A DRF test client that sends ``Authorization: Token …`` when a persona token is given."""
    client = APIClient()
    if token:
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client

"""Authentication fit for PHI: hashed expiring tokens nobody can read back, login lockout for the
portal and the admin, Django's full password policy, a session idle timeout, security headers."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone
from knox.models import AuthToken

from apps.core.models import PersonaRole
from apps.core.tokens import api_token_issue
from tests.factories import persona_user

pytestmark = pytest.mark.django_db(databases="__all__")


def api_get(path, token):
    return Client().get(path, HTTP_AUTHORIZATION=f"Token {token}")


def test_tokens_are_stored_hashed_and_never_shown_by_the_admin(admin_client):
    user, token = persona_user(PersonaRole.SRE)
    stored = AuthToken.objects.get(user=user)
    assert token not in {stored.digest, stored.token_key} and len(stored.digest) == 128
    listing = admin_client.get("/admin/knox/authtoken/").content.decode()
    assert user.username in listing and token not in listing
    assert admin_client.get("/admin/knox/authtoken/add/").status_code == 403
    assert not any(app["app_label"] == "authtoken" for app in admin_client.get("/admin/").context["app_list"])


def test_an_expired_token_is_refused():
    user, _ = persona_user(PersonaRole.SRE)
    token = api_token_issue(user=user, ttl=timedelta(minutes=5))
    assert api_get("/api/slo", token).status_code == 200
    AuthToken.objects.filter(user=user).update(expiry=timezone.now() - timedelta(seconds=1))
    from apps.core.identity_cache import token_identity_cache

    token_identity_cache.clear()  # as another worker would after its cache TTL
    refused = api_get("/api/slo", token)
    assert refused.status_code == 401 and "persona_tokens" in refused.json()["detail"]


@pytest.mark.parametrize("login_url", ["/accounts/login/", "/admin/login/"])
def test_repeated_failures_lock_the_login_out(login_url):
    user, _ = persona_user(PersonaRole.OPERATOR, username="locked-out")
    user.is_staff = True
    user.set_password("the right passphrase 42")
    user.save()
    client = Client()
    for _ in range(4):
        assert client.post(login_url, {"username": "locked-out", "password": "guess"}).status_code == 200
    assert client.post(login_url, {"username": "locked-out", "password": "guess"}).status_code == 429
    locked = client.post(login_url, {"username": "locked-out", "password": "the right passphrase 42"})
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("password", ["short", "password12345", "1234567890123", "locked-out-user"])
def test_the_full_password_policy_applies(password):
    user, _ = persona_user(PersonaRole.SRE, username="locked-out-user")
    with pytest.raises(ValidationError):
        validate_password(password, user=user)
    validate_password("correct horse battery staple", user=user)


def test_an_idle_session_ends(client):
    user, _ = persona_user(PersonaRole.BILLING_ADMIN)
    client.force_login(user)
    assert client.get("/dashboards/financial").status_code == 200
    session = Session.objects.get()
    idle = (session.expire_date - timezone.now()).total_seconds()
    assert 880 < idle <= 900  # 15 minutes after the last request (the expiry slides once a minute)
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    assert client.get("/dashboards/financial").status_code == 302


def test_portal_pages_carry_a_strict_content_security_policy(client):
    header = client.get("/accounts/login/")["Content-Security-Policy"]
    policy = {d.strip().split(" ", 1)[0]: d.strip().split(" ", 1)[1] for d in header.split(";") if d.strip()}
    assert policy["script-src"] == "'self'" and policy["frame-ancestors"] == "'none'"
    assert policy["style-src"] == "'self'"  # no inline style on portal pages
    # Only the API reference pages (Swagger UI, ReDoc write style elements) allow inline style.
    for reference in ("/api/docs/", "/api/redoc/"):
        header = client.get(reference)["Content-Security-Policy"]
        assert "style-src 'self' 'unsafe-inline'" in header and "script-src 'self';" in header + ";"
    docs = client.get("/api/docs/").content.decode()
    assert "cdn" not in docs.lower() and "/static/drf_spectacular_sidecar/" in docs
    assert "<script>" not in docs  # the split view serves its start-up script as a file


def test_production_settings_demand_https():
    code = (
        "import django, os; os.environ['DJANGO_SECRET_KEY']='x'*50; "
        "from django.conf import settings as s; django.setup(); "
        "print(s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_SSL_REDIRECT, "
        "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY)"
    )
    env = {"DJANGO_SETTINGS_MODULE": "pimlab_portal.settings.production", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.splitlines()[-1].split() == ["31536000", "True", "True", "True", "True", "True"]

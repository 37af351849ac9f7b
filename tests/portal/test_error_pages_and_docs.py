"""Error pages in the portal's layout, and API docs served from the project (no CDN)."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string
from django.test import Client

from .conftest import browser_for

pytestmark = pytest.mark.django_db(databases="__all__")


def test_404_page_looks_like_the_portal_and_says_what_to_do(lab):
    response = browser_for(lab["patient"]).get("/no-such-page")
    html = response.content.decode()
    assert response.status_code == 404
    assert "Page not found" in html and 'id="nav-links"' in html and "Go to your start page" in html


def test_500_page_renders_without_a_request_context():
    html = render_to_string("500.html")
    assert "something went wrong" in html and "var/log/" in html and "PIM SRE Lab" in html


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_api_docs_load_their_assets_from_the_project(lab, path):
    html = browser_for(lab["sre"]).get(path).content.decode()
    assert "drf_spectacular_sidecar" in html
    assert "cdn." not in html and "unpkg" not in html and "jsdelivr" not in html


def test_home_page_offers_each_persona_its_own_pages(lab):
    assert "/visits/book" in browser_for(lab["patient"]).get("/").content.decode()
    assert "/worklist" in browser_for(lab["clinician"]).get("/").content.decode()
    assert "/billing/ready" in browser_for(lab["billing"]).get("/").content.decode()
    assert "Sign in" in Client().get("/").content.decode()

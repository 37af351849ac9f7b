"""A revoked token and a deactivated user are refused by every gunicorn worker within the stated
bound: PIMLAB_TOKEN_CACHE_SECONDS (each worker's identity cache TTL; 10 s by default, 2 s here)."""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from apps.core.models import PersonaRole
from apps.core.tokens import api_tokens_revoke
from tests.factories import persona_user
from tests.support.databases import child_env
from tests.support.network import unused_port

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)

ROOT = Path(__file__).resolve().parents[2]
CACHE_SECONDS = 2.0


@pytest.fixture
def two_workers(tmp_path):
    port, access_log = unused_port(), tmp_path / "access.log"
    env = child_env(
        PIMLAB_VAR_DIR=str(tmp_path),
        PIMLAB_TOKEN_CACHE_SECONDS=str(CACHE_SECONDS),
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_WORKERS="2",
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "pimlab_portal/gunicorn.conf.py",
         "--access-logfile", str(access_log), "--access-logformat", "%(p)s %(s)s"],
        cwd=ROOT, env=env, stdout=(tmp_path / "web.log").open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{base}/healthz", timeout=20).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.3)
        yield base, access_log
    finally:
        server.terminate()
        server.wait(20)


def answers(base: str, access_log: Path, token: str, count: int = 24) -> set[tuple[str, int]]:
    """(worker pid, status) of ``count`` concurrent requests, from gunicorn's access log."""
    already = len(access_log.read_text().splitlines()) if access_log.exists() else 0

    def call(_):
        headers = {"Authorization": f"Token {token}", "Connection": "close"}
        return requests.get(f"{base}/api/slo", headers=headers, timeout=10).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(call, range(count)))
    time.sleep(0.2)
    lines = access_log.read_text().splitlines()[already:]
    return {(pid, int(status)) for pid, status in (line.split() for line in lines)}


def warm_both_workers(base, access_log, token) -> set[str]:
    seen: set[tuple[str, int]] = set()
    for _ in range(10):
        seen |= answers(base, access_log, token)
        if len({pid for pid, status in seen if status == 200}) == 2:
            break
    assert {status for _, status in seen} == {200}
    pids = {pid for pid, _ in seen}
    assert len(pids) == 2, "both workers must have cached the identity"
    return pids


@pytest.mark.parametrize("change", ["token revoked", "user deactivated"])
def test_every_worker_refuses_within_the_cache_bound(two_workers, change):
    base, access_log = two_workers
    user, token = persona_user(PersonaRole.SRE)
    pids = warm_both_workers(base, access_log, token)
    if change == "token revoked":
        api_tokens_revoke(user=user)
    else:
        type(user).objects.filter(pk=user.pk).update(is_active=False)  # no signal: the TTL is the bound
    time.sleep(CACHE_SECONDS + 0.5)
    after = set()
    for _ in range(10):
        after |= answers(base, access_log, token)
        if {pid for pid, _ in after} == pids:
            break
    assert {pid for pid, _ in after} == pids and {status for _, status in after} == {401}

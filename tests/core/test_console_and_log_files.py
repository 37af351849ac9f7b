"""`make run` keeps the console readable: warnings and errors on the console, the full JSON log in
rotated files under PIMLAB_LOG_DIR; the banner waits for the web process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import logging, django
django.setup()
logging.getLogger("apps.lab").info("routine_detail")
logging.getLogger("apps.lab").warning("something_to_look_at")
"""


def test_console_gets_warnings_and_the_file_gets_everything(tmp_path):
    (tmp_path / "log").mkdir()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "pimlab_portal.settings.local",
        "PIMLAB_VAR_DIR": str(tmp_path / "var"),
        "PIMLAB_LOG_DIR": str(tmp_path / "log"),
        "PIMLAB_CONSOLE_LOG_LEVEL": "WARNING",
        "PIMLAB_PROCESS_ROLE": "web",
    }
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "something_to_look_at" in result.stdout and "routine_detail" not in result.stdout
    lines = [json.loads(line) for line in (tmp_path / "log" / "web.log").read_text().splitlines()]
    assert {"routine_detail", "something_to_look_at"} <= {line["event"] for line in lines}


def test_banner_waits_for_the_web_process_and_says_when_it_does_not_answer():
    out, err = StringIO(), StringIO()
    call_command("lab_banner", base_url="http://127.0.0.1:9", wait=1, stdout=out, stderr=err)
    assert "did not answer" in err.getvalue() and "Persona logins" not in out.getvalue()

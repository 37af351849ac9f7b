"""Configuration lives in one place: the settings read the environment and hold every default; the
README's tables document every PIMLAB_* variable the code reads; importing settings has no side
effects on the file system."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Where the project reads or sets its variables (benchmarks and tests set their own on purpose).
SCANNED = ("apps/**/*.py", "pimlab_portal/**/*.py", "scripts/**/*", "Makefile", "Procfile")
PYTHON_NAME = re.compile(r"""["'](PIMLAB_[A-Z0-9_]+)["']|\b(PIMLAB_[A-Z0-9_]+)=(?!=)""")
SHELL_NAME = re.compile(r"""\$\{?\(?(PIMLAB_[A-Z0-9_]+)|\b(PIMLAB_[A-Z0-9_]+)=|["'](PIMLAB_[A-Z0-9_]+)["']""")
TABLE_NAME = re.compile(r"`(PIMLAB_[A-Z0-9_]+)`")
ENVIRON_READ_OF_PIMLAB = re.compile(r"""(os\.environ(\.get)?\s*[\[(]|os\.getenv\()\s*["']PIMLAB_""")
SETTINGS_DIR = ROOT / "pimlab_portal" / "settings"
# gunicorn reads its config file in the master, before Django loads.
ENVIRON_READERS = {SETTINGS_DIR, ROOT / "pimlab_portal" / "gunicorn.conf.py"}


def variables_named(path: Path, text: str) -> set[str]:
    pattern = PYTHON_NAME if path.suffix == ".py" else SHELL_NAME
    return {name for match in pattern.finditer(text) for name in match.groups() if name}


def variables_in_readme_tables(readme: str) -> set[str]:
    """Names in the first column of a Markdown table row."""
    names = set()
    for line in readme.splitlines():
        if line.startswith("|"):
            names.update(TABLE_NAME.findall(line.split("|")[1]))
    return names


def scanned_files() -> list[Path]:
    files = {path for pattern in SCANNED for path in ROOT.glob(pattern) if path.is_file()}
    return sorted(path for path in files if "__pycache__" not in path.parts)


def undocumented(files: dict[Path, str], readme: str) -> dict[str, list[str]]:
    documented = variables_in_readme_tables(readme)
    missing: dict[str, list[str]] = {}
    for path, text in files.items():
        for name in sorted(variables_named(path, text) - documented):
            missing.setdefault(name, []).append(str(path.relative_to(ROOT)))
    return missing


def test_every_pimlab_variable_the_code_reads_is_documented_in_a_readme_table():
    files = {path: path.read_text(errors="replace") for path in scanned_files()}
    assert len(files) > 100
    names = set().union(*(variables_named(path, text) for path, text in files.items()))
    assert {"PIMLAB_CATALOG_URL", "PIMLAB_VAR_DIR", "PIMLAB_PROCESS_ROLE", "PIMLAB_CLAIMS_RATE_LIMIT"} <= names
    missing = undocumented(files, (ROOT / "README.md").read_text())
    assert missing == {}, f"add these variables to a table in README.md: {missing}"


def test_an_undocumented_variable_is_reported_with_its_file():
    readme = "| variable | default |\n| --- | --- |\n| `PIMLAB_DOCUMENTED` | `1` |\nProse: `PIMLAB_IN_PROSE`.\n"
    files = {
        ROOT / "apps" / "example.py": 'os.environ.get("PIMLAB_DOCUMENTED")\nos.environ["PIMLAB_IN_PROSE"]\n',
        ROOT / "scripts" / "example.sh": 'echo "${PIMLAB_NEW_KNOB:-0}"\nPIMLAB_DOCUMENTED=2 make run\n',
        ROOT / "Makefile": "run:\n\tPIMLAB_FROM_MAKE=1 $(PY) manage.py x $(PIMLAB_DOCUMENTED)\n",
    }
    assert undocumented(files, readme) == {
        "PIMLAB_IN_PROSE": ["apps/example.py"],
        "PIMLAB_NEW_KNOB": ["scripts/example.sh"],
        "PIMLAB_FROM_MAKE": ["Makefile"],
    }


def test_only_the_settings_read_pimlab_variables_from_the_environment():
    readers = []
    for path in scanned_files():
        if path.suffix != ".py" or path in ENVIRON_READERS or SETTINGS_DIR in path.parents:
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if ENVIRON_READ_OF_PIMLAB.search(line):
                readers.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert readers == [], "read these through django.conf.settings (default in settings/base.py)"


def test_no_code_repeats_a_settings_default():
    repeated = []
    for path in scanned_files():
        if path.suffix == ".py":
            text = path.read_text()
            repeated += [
                f"{path.relative_to(ROOT)}: {m}" for m in re.findall(r"getattr\(settings, \"PIMLAB_\w+\"", text)
            ]
    assert repeated == [], "use settings.PIMLAB_… (the default lives in settings/base.py)"


def test_importing_settings_creates_no_folders_and_django_setup_creates_the_embedded_ones(tmp_path):
    var = tmp_path / "var"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PIMLAB_", "DJANGO_", "PROMETHEUS_", "OTEL_"))
    }
    env.update({"DJANGO_SETTINGS_MODULE": "pimlab_portal.settings.local", "PIMLAB_VAR_DIR": str(var)})
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from django.conf import settings\n"
        "settings.DATABASES\n"
        "var = Path(sys.argv[1])\n"
        "print('after import:', var.exists())\n"
        "import django\n"
        "django.setup()\n"
        "print('after setup:', sorted(str(p.relative_to(var)) for p in var.rglob('*')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(var)], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "after import: False" in result.stdout
    assert (
        "after setup: ['broker', 'broker/control', 'broker/processed', 'broker/queue', 'staticfiles']" in result.stdout
    )

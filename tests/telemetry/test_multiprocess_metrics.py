"""Preparing the shared metrics folder removes only the files of processes that are gone."""

import os
import subprocess
import sys

from apps.telemetry.multiprocess import metrics_dir_prepare


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_stale_files_go_and_live_processes_keep_theirs(tmp_path):
    folder = tmp_path / "metrics"
    folder.mkdir()
    gone = dead_pid()
    stale = [folder / f"counter_{gone}.db", folder / f"histogram_{gone}.db", folder / "junk.db"]
    live = [folder / f"counter_{os.getpid()}.db", folder / f"gauge_livesum_{os.getpid()}.db"]
    for file in stale + live:
        file.write_bytes(b"x")
    removed = metrics_dir_prepare(folder)
    assert sorted(removed) == sorted(stale)
    assert all(file.exists() for file in live)


def test_the_folder_is_created_when_missing(tmp_path):
    assert metrics_dir_prepare(tmp_path / "a" / "b") == []
    assert (tmp_path / "a" / "b").is_dir()

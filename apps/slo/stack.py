"""The lab's Prometheus and Alertmanager: configuration rendered from the checked-in files, and the
two servers started as child processes (``manage.py observe``, ``make observe``, the tests).

The files under ``dashboards/prometheus/`` carry the lab's default ports and relative paths; a run
renders a copy into its own folder with the actual targets, absolute rule paths and the receiver
token file, so the checked-in files stay the single source and are checked by promtool/amtool."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
import yaml

PROMETHEUS_DIR = Path(__file__).resolve().parents[2] / "dashboards" / "prometheus"
PROMETHEUS_CONFIG = PROMETHEUS_DIR / "prometheus.yml"
ALERTMANAGER_CONFIG = PROMETHEUS_DIR / "alertmanager.yml"
JOB_WEB, JOB_WORKER, JOB_PROJECTION_WORKER = "pimlab-web", "pimlab-worker", "pimlab-projection-worker"


class StackError(RuntimeError):
    """A binary is missing or a server did not become ready."""


@dataclass
class StackTargets:
    """host:port of each scraped process and of the lab's webhook receiver."""

    web: list[str]
    worker: list[str] = field(default_factory=list)
    projection_worker: list[str] = field(default_factory=list)
    receiver_url: str = "http://127.0.0.1:8000/api/alerts/alertmanager"


@dataclass
class StackTiming:
    """The checked-in values, or shorter ones for tests that must see an alert within seconds."""

    scrape_interval: str | None = None
    evaluation_interval: str | None = None
    group_wait: str | None = None
    group_interval: str | None = None


def prometheus_config_render(
    *, targets: StackTargets, alertmanager: str, timing: StackTiming | None = None, rule_files: list[Path] | None = None
) -> dict:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    timing = timing or StackTiming()
    if timing.scrape_interval:
        config["global"]["scrape_interval"] = timing.scrape_interval
        config["global"]["scrape_timeout"] = timing.scrape_interval
    if timing.evaluation_interval:
        config["global"]["evaluation_interval"] = timing.evaluation_interval
    config["rule_files"] = [str(path) for path in (rule_files or [PROMETHEUS_DIR / f for f in config["rule_files"]])]
    config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] = [alertmanager]
    by_job = {JOB_WEB: targets.web, JOB_WORKER: targets.worker, JOB_PROJECTION_WORKER: targets.projection_worker}
    config["scrape_configs"] = [
        {**job, "static_configs": [{"targets": by_job[job["job_name"]]}]}
        for job in config["scrape_configs"]
        if by_job.get(job["job_name"])
    ]
    return config


def alertmanager_config_render(*, receiver_url: str, token_file: Path, timing: StackTiming | None = None) -> dict:
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    timing = timing or StackTiming()
    if timing.group_wait:
        config["route"]["group_wait"] = timing.group_wait
    if timing.group_interval:
        config["route"]["group_interval"] = timing.group_interval
    webhook = config["receivers"][0]["webhook_configs"][0]
    webhook["url"] = receiver_url
    webhook["http_config"]["authorization"]["credentials_file"] = str(token_file)
    return config


@dataclass
class StackProcess:
    name: str
    process: subprocess.Popen
    url: str
    log_path: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=20)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


@dataclass
class ObservabilityStack:
    prometheus: StackProcess
    alertmanager: StackProcess
    directory: Path

    def stop(self) -> None:
        self.prometheus.stop()
        self.alertmanager.stop()


def binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise StackError(
        f"{' or '.join(names)} not found: run `make services` (scripts/ensure_services.d/10-prometheus.sh "
        "installs Debian's prometheus and prometheus-alertmanager)."
    )


def _start(name: str, command: list[str], *, url: str, ready_path: str, directory: Path) -> StackProcess:
    log_path = directory / f"{name}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    started = StackProcess(name=name, process=process, url=url, log_path=log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StackError(f"{name} exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            if requests.get(f"{url}{ready_path}", timeout=1).ok:
                return started
        except requests.RequestException:
            pass
        time.sleep(0.2)
    started.stop()
    raise StackError(f"{name} did not become ready at {url}:\n{log_path.read_text()[-3000:]}")


def stack_start(
    *,
    directory: Path,
    targets: StackTargets,
    token_file: Path,
    prometheus_port: int = 9090,
    alertmanager_port: int = 9093,
    timing: StackTiming | None = None,
) -> ObservabilityStack:
    """Render both configurations into ``directory`` and start Alertmanager, then Prometheus."""
    directory.mkdir(parents=True, exist_ok=True)
    alertmanager_address = f"127.0.0.1:{alertmanager_port}"
    prometheus_yml = directory / "prometheus.yml"
    alertmanager_yml = directory / "alertmanager.yml"
    prometheus_yml.write_text(
        yaml.safe_dump(prometheus_config_render(targets=targets, alertmanager=alertmanager_address, timing=timing))
    )
    alertmanager_yml.write_text(
        yaml.safe_dump(
            alertmanager_config_render(receiver_url=targets.receiver_url, token_file=token_file, timing=timing)
        )
    )
    alertmanager = _start(
        "alertmanager",
        [
            binary("prometheus-alertmanager", "alertmanager"),
            f"--config.file={alertmanager_yml}",
            f"--storage.path={directory / 'alertmanager-data'}",
            f"--web.listen-address={alertmanager_address}",
            "--cluster.listen-address=",  # one instance: no gossip port
        ],
        url=f"http://{alertmanager_address}",
        ready_path="/-/ready",
        directory=directory,
    )
    try:
        prometheus = _start(
            "prometheus",
            [
                binary("prometheus"),
                f"--config.file={prometheus_yml}",
                f"--storage.tsdb.path={directory / 'prometheus-data'}",
                f"--web.listen-address=127.0.0.1:{prometheus_port}",
                "--web.enable-lifecycle",
                "--storage.tsdb.retention.time=15d",
            ],
            url=f"http://127.0.0.1:{prometheus_port}",
            ready_path="/-/ready",
            directory=directory,
        )
    except BaseException:
        alertmanager.stop()
        raise
    return ObservabilityStack(prometheus=prometheus, alertmanager=alertmanager, directory=directory)

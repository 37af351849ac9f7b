"""The HA lab: one shard served by a PostgreSQL pair managed by Patroni, with a one-member etcd.

Everything runs on loopback ports below 32768 (the kernel's ephemeral range starts there) as the
``postgres`` OS user, because initdb and Patroni refuse root. State (PIDs, ports, paths) is kept
in ``state.json`` under the lab directory so ``status``/``down`` and the drills find the
processes of an ``up`` done by another process. Timings and pitfalls (zombie postmasters,
detached postmasters, ephemeral ports): ``docs/runbooks/30_sql-failover.md``.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import psycopg
import requests
import structlog
import yaml
from django.conf import settings

logger = structlog.get_logger(__name__)

POSTGRES_OS_USER = "postgres"
SCOPE = "pimlab-ha"
NODE_NAMES = ("node0", "node1")
DATABASE_NAME = "pimlab_ha_shard"

# Patroni's timings (bootstrap DCS). Patroni 4 refuses ttl < 20, loop_wait < 1, retry_timeout < 3
# (it raises them back with a warning) and needs loop_wait + 2 * retry_timeout <= ttl: the lab runs
# at those floors. With them a pod kill still waits for the leader lease (ttl) to expire, unless the
# node agent (ha_node_agent.py, PIMLAB_HA_NODE_AGENT) sees the node's processes gone and releases
# the lock at once.
# Trade-offs of each value: docs/runbooks/30_sql-failover.md ("Failover timings").
PATRONI_TTL = 20
PATRONI_LOOP_WAIT = 1
PATRONI_RETRY_TIMEOUT = 3
# libpq, for every client of the pair (the app's shard URL, the drills' checks): give up on a host
# that does not answer a connect in 2 s, detect a peer that vanished without a FIN/RST within
# 5 + 3 * 1 s of idleness, and drop a connection whose sent data stays unacknowledged for 5 s.
LIBPQ_OPTIONS = (
    "connect_timeout=2&keepalives=1&keepalives_idle=5&keepalives_interval=1&keepalives_count=3&tcp_user_timeout=5000"
)
AGENT_SCRIPT = Path(__file__).with_name("ha_node_agent.py")
# Patroni runs through this launcher, which polls a stopping PostgreSQL every
# PATRONI_STOP_POLL_SECONDS instead of every second (patroni_launcher.py says why).
PATRONI_LAUNCHER = Path(__file__).with_name("patroni_launcher.py")
PATRONI_STOP_POLL_SECONDS = 0.25


class HaLabError(RuntimeError):
    pass


@dataclass
class NodeState:
    name: str
    pg_port: int
    rest_port: int
    data_dir: str
    config_file: str
    log_file: str
    patroni_pid: int | None = None
    agent_pid: int | None = None


@dataclass
class LabState:
    base_dir: str
    etcd_client_port: int
    etcd_peer_port: int
    etcd_pid: int | None = None
    nodes: list[NodeState] = field(default_factory=list)

    @property
    def etcd_url(self) -> str:
        return f"http://127.0.0.1:{self.etcd_client_port}"

    def node(self, name: str) -> NodeState:
        for node in self.nodes:
            if node.name == name:
                return node
        raise HaLabError(f"No node named {name!r} in the HA lab (nodes: {', '.join(n.name for n in self.nodes)}).")

    def dsn(self, *, dbname: str = DATABASE_NAME, read_write: bool = True) -> str:
        hosts = ",".join(f"127.0.0.1:{n.pg_port}" for n in self.nodes)
        query = f"target_session_attrs=read-write&{LIBPQ_OPTIONS}" if read_write else LIBPQ_OPTIONS
        return f"postgres://postgres@{hosts}/{dbname}?{query}"

    def node_dsn(self, name: str, *, dbname: str = DATABASE_NAME) -> str:
        return f"host=127.0.0.1 port={self.node(name).pg_port} user=postgres dbname={dbname} connect_timeout=2"

    @property
    def namespace(self) -> str:
        return f"/pimlab-{Path(self.base_dir).name}/"


def lab_dir() -> Path:
    return Path(settings.PIMLAB_HA_DIR)


def base_port() -> int:
    port = int(settings.PIMLAB_HA_BASE_PORT)
    if not 1024 <= port <= 32768 - 40:
        raise HaLabError("PIMLAB_HA_BASE_PORT must leave room for 40 ports below 32768 (the ephemeral range).")
    return port


def patroni_bin(name: str = "patroni") -> str:
    venv = Path(settings.PIMLAB_PATRONI_VENV)
    candidate = venv / "bin" / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    raise HaLabError(f"{name} is not installed; run scripts/ensure_ha_lab.sh (installs etcd-server and Patroni).")


def postgres_bin_dir() -> str:
    configured = settings.PIMLAB_PG_BIN_DIR
    if configured:
        return configured
    roots = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if not roots:
        raise HaLabError("No PostgreSQL binaries under /usr/lib/postgresql; set PIMLAB_PG_BIN_DIR.")
    return str(roots[-1])


def state_file() -> Path:
    return lab_dir() / "state.json"


def load_state() -> LabState | None:
    path = state_file()
    if not path.exists():
        return None
    raw = json.loads(path.read_text())
    nodes = [NodeState(**n) for n in raw.pop("nodes")]
    return LabState(nodes=nodes, **raw)


def save_state(state: LabState) -> None:
    state_file().write_text(json.dumps(asdict(state), indent=2))


# --- processes ------------------------------------------------------------------------------


def process_alive(pid: int | None) -> bool:
    """True for a live process; a zombie (state Z, a SIGKILLed postmaster nobody reaped) is dead."""
    if not pid:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rpartition(")")[2].split()[0] not in {"Z", "X"}


def processes_using(path: str) -> list[int]:
    """PIDs of live processes whose command line mentions ``path``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if path in cmdline and process_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def kill_pid(pid: int | None, sig: int = signal.SIGKILL) -> bool:
    if not process_alive(pid):
        return False
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


def postmaster_pid(node: NodeState) -> int | None:
    try:
        first = (Path(node.data_dir) / "postmaster.pid").read_text().splitlines()[0]
        return int(first.strip())
    except (FileNotFoundError, IndexError, ValueError):
        return None


def _as_postgres() -> dict:
    entry = pwd.getpwnam(POSTGRES_OS_USER)
    if os.geteuid() != 0:
        if os.geteuid() != entry.pw_uid:
            raise HaLabError("Run lab_ha as root (it drops to the postgres user) or as postgres itself.")
        return {}
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _chown_postgres(path: Path) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam(POSTGRES_OS_USER)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _spawn(argv: list[str], log_file: Path) -> int:
    """Start a detached server process as postgres; returns its PID (the process itself, no wrapper)."""
    home = pwd.getpwnam(POSTGRES_OS_USER).pw_dir
    env = {"PATH": "/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    with open(log_file, "ab") as log:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=str(log_file.parent),
            env=env,
            start_new_session=True,
            **_as_postgres(),
        )
    return process.pid


# --- configuration --------------------------------------------------------------------------


def patroni_config(state: LabState, node: NodeState) -> dict:
    return {
        "scope": SCOPE,
        "namespace": state.namespace,
        "name": node.name,
        "log": {"level": "INFO"},
        "restapi": {"listen": f"127.0.0.1:{node.rest_port}", "connect_address": f"127.0.0.1:{node.rest_port}"},
        "etcd3": {"hosts": [f"127.0.0.1:{state.etcd_client_port}"]},
        "bootstrap": {
            "dcs": {
                "ttl": PATRONI_TTL,
                "loop_wait": PATRONI_LOOP_WAIT,
                "retry_timeout": PATRONI_RETRY_TIMEOUT,
                "maximum_lag_on_failover": 1048576,
                "synchronous_mode": True,
                "postgresql": {
                    "use_pg_rewind": True,
                    "use_slots": True,
                    "parameters": {
                        "wal_level": "replica",
                        "hot_standby": "on",
                        "wal_log_hints": "on",
                        "max_wal_senders": 10,
                        "max_replication_slots": 10,
                        "wal_keep_size": "128MB",
                        "max_connections": 60,
                        "shared_buffers": "32MB",
                        # A low retry interval, or promotion of the standby can stall ~5 s.
                        "wal_retrieve_retry_interval": "1s",
                        # Few dirty buffers at any time: the CHECKPOINT Patroni runs before a switchover
                        # demotes the leader, and the redo after a postmaster crash, stay short. Costs
                        # more full-page images in the WAL (runbook 30, "Failover timings").
                        "checkpoint_timeout": "30s",
                    },
                },
            },
            "initdb": [{"encoding": "UTF8"}, {"locale": "C.UTF-8"}],
            "pg_hba": [
                "local all all trust",
                "host all all 127.0.0.1/32 trust",
                "host replication all 127.0.0.1/32 trust",
            ],
        },
        "postgresql": {
            "listen": f"127.0.0.1:{node.pg_port}",
            "connect_address": f"127.0.0.1:{node.pg_port}",
            "data_dir": node.data_dir,
            "bin_dir": postgres_bin_dir(),
            "pgpass": str(Path(node.data_dir).parent / f"{node.name}.pgpass"),
            "authentication": {
                "superuser": {"username": "postgres"},
                "replication": {"username": "postgres"},
                "rewind": {"username": "postgres"},
            },
            "basebackup": [{"checkpoint": "fast"}],
            # TCP only: a SIGKILLed postmaster leaves a socket lock file that blocks the next start.
            "parameters": {"unix_socket_directories": ""},
        },
        "tags": {"nofailover": False, "noloadbalance": False, "clonefrom": False, "nosync": False},
    }


# --- lifecycle ------------------------------------------------------------------------------


def lab_up(*, timeout: float = 120.0) -> LabState:
    """Build and start etcd and two Patroni nodes; wait for a leader and a streaming sync standby."""
    existing = load_state()
    if existing is not None and process_alive(existing.etcd_pid):
        raise HaLabError(f"The HA lab already runs under {existing.base_dir}; `lab_ha down` first.")
    base = lab_dir()
    _check_reachable_by_postgres(base)
    _check_ports_free(base_port())
    if base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True)
    os.chmod(base, 0o755)  # noqa: S103 - postgres must traverse it; nothing secret lives here
    _chown_postgres(base)
    port = base_port()
    state = LabState(base_dir=str(base), etcd_client_port=port, etcd_peer_port=port + 1)
    for index, name in enumerate(NODE_NAMES):
        node_dir = base / name
        node_dir.mkdir()
        _chown_postgres(node_dir)
        state.nodes.append(
            NodeState(
                name=name,
                pg_port=port + 10 * (index + 1),
                rest_port=port + 10 * (index + 1) + 1,
                data_dir=str(node_dir / "data"),
                config_file=str(node_dir / "patroni.yml"),
                log_file=str(node_dir / "patroni.log"),
            )
        )
    etcd_dir = base / "etcd"
    etcd_dir.mkdir()
    _chown_postgres(etcd_dir)
    save_state(state)
    etcd = shutil.which("etcd")
    if etcd is None:
        raise HaLabError("etcd is not installed; run scripts/ensure_ha_lab.sh (Debian's etcd-server).")
    peer = f"http://127.0.0.1:{state.etcd_peer_port}"
    state.etcd_pid = _spawn(
        [
            etcd,
            "--name=pimlab",
            f"--data-dir={etcd_dir / 'data'}",
            f"--listen-client-urls={state.etcd_url}",
            f"--advertise-client-urls={state.etcd_url}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=pimlab={peer}",
            "--initial-cluster-state=new",
            f"--initial-cluster-token=pimlab-{port}",
        ],
        etcd_dir / "etcd.log",
    )
    save_state(state)
    _wait(lambda: _etcd_healthy(state), timeout=30, what="etcd to answer")
    if settings.PIMLAB_HA_NODE_AGENT:
        for node in state.nodes:
            node.agent_pid = agent_start(state, node)
        save_state(state)
    for node in state.nodes:
        config = Path(node.config_file)
        config.write_text(yaml.safe_dump(patroni_config(state, node), sort_keys=False))
        _chown_postgres(config)
        node_start(state, node.name)
    leader = _wait(lambda: cluster_leader(state), timeout=timeout, what="a Patroni leader")
    _wait(lambda: _create_database(state), timeout=30, what=f"database {DATABASE_NAME}")
    wait_for_sync_standby(state, timeout=timeout)
    logger.info("ha_lab_up", leader=leader, etcd_port=state.etcd_client_port, shard_id="ha")
    return state


def lab_down(*, keep_logs_in: Path | None = None) -> list[int]:
    """Stop everything the lab started, by PID: Patroni agents, postmasters, etcd. Returns the PIDs killed."""
    state = load_state()
    if state is None:
        return []
    killed = []
    for node in state.nodes:
        for pid in (node.agent_pid, node.patroni_pid, postmaster_pid(node)):
            if kill_pid(pid):
                killed.append(pid)
    if kill_pid(state.etcd_pid):
        killed.append(state.etcd_pid)
    # A node caught restarting (no postmaster.pid yet) or a backend left behind: any process
    # whose command line names a file of this lab belongs to it.
    for pid in processes_using(state.base_dir):
        if pid not in killed and kill_pid(pid):
            killed.append(pid)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(process_alive(pid) for pid in killed):
        time.sleep(0.1)
    if keep_logs_in is not None:
        keep_logs_in.mkdir(parents=True, exist_ok=True)
        for log in Path(state.base_dir).rglob("*.log*"):
            if log.is_file():
                shutil.copy(log, keep_logs_in / f"{log.parent.name}-{log.name}")
    shutil.rmtree(state.base_dir, ignore_errors=True)
    return killed


def node_start(state: LabState, name: str) -> int:
    node = state.node(name)
    stale = postmaster_pid(node)
    if stale and not process_alive(stale):
        # A SIGKILLed postmaster leaves postmaster.pid behind; as a zombie its PID still
        # answers kill -0, which makes PostgreSQL refuse to start.
        (Path(node.data_dir) / "postmaster.pid").unlink(missing_ok=True)
    argv = [patroni_bin("python3"), "-I", str(PATRONI_LAUNCHER), str(PATRONI_STOP_POLL_SECONDS), node.config_file]
    if process_alive(node.agent_pid):
        node.patroni_pid = _spawn_by_agent(node, argv)
    else:
        node.patroni_pid = _spawn(argv, Path(node.log_file))
    save_state(state)
    return node.patroni_pid


def _spawn_by_agent(node: NodeState, argv: list[str], *, timeout: float = 15.0) -> int:
    """Have the node's agent start ``argv`` as its child (it reaps the node's processes); its PID."""
    from . import ha_node_agent

    node_dir = Path(node.config_file).parent
    request_id = f"{os.getpid()}-{time.monotonic_ns()}"
    user = _as_postgres()
    home = pwd.getpwnam(POSTGRES_OS_USER).pw_dir
    request = {
        "request_id": request_id,
        "argv": argv,
        "env": {"PATH": "/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"},
        "cwd": str(node_dir),
        "log_file": node.log_file,
        "uid": user.get("user"),
        "gid": user.get("group"),
    }
    pending = node_dir / f".{ha_node_agent.START_REQUEST}"
    pending.write_text(json.dumps(request))
    pending.replace(node_dir / ha_node_agent.START_REQUEST)

    def started():
        try:
            answer = json.loads((node_dir / ha_node_agent.STARTED).read_text())
        except (OSError, ValueError):
            return None
        return answer["pid"] if answer.get("request_id") == request_id else None

    return _wait(started, timeout=timeout, what=f"the node agent of {node.name} to start Patroni", interval=0.05)


def agent_start(state: LabState, node: NodeState) -> int:
    """Start the node's agent: its init (Patroni runs as its child) and, when the node's processes
    are gone, the release of its leader lock. A pod kill leaves it running (ha_node_agent.py)."""
    log_file = Path(node.log_file).with_name("agent.log")
    argv = [sys.executable, "-I", str(AGENT_SCRIPT), str(state_file()), node.name, state.namespace, SCOPE]
    with open(log_file, "ab") as log:
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    return process.pid


def node_kill(state: LabState, name: str) -> dict:
    """Pod kill: SIGKILL the node's Patroni agent and its postmaster together."""
    node = state.node(name)
    postmaster = postmaster_pid(node)
    killed_at = time.time()
    patroni_killed = kill_pid(node.patroni_pid)
    postmaster_killed = kill_pid(postmaster)
    logger.warning("ha_node_killed", node=name, patroni_pid=node.patroni_pid, postmaster_pid=postmaster, shard_id="ha")
    return {
        "node": name,
        "killed_at": killed_at,
        "patroni_pid": node.patroni_pid,
        "postmaster_pid": postmaster,
        "patroni_killed": patroni_killed,
        "postmaster_killed": postmaster_killed,
    }


def postmaster_kill(state: LabState, name: str) -> dict:
    """Crash only the postmaster; Patroni restarts it in place or fails over."""
    node = state.node(name)
    postmaster = postmaster_pid(node)
    killed_at = time.time()
    return {"node": name, "killed_at": killed_at, "postmaster_killed": kill_pid(postmaster)}


# --- observation ----------------------------------------------------------------------------


def rest(state: LabState, name: str, path: str = "patroni", timeout: float = 2.0) -> tuple[int, dict]:
    node = state.node(name)
    try:
        response = requests.get(f"http://127.0.0.1:{node.rest_port}/{path}", timeout=timeout)
    except requests.RequestException:
        return 0, {}
    try:
        body = response.json()
    except ValueError:
        body = {}
    return response.status_code, body


def cluster_leader(state: LabState) -> str | None:
    for node in state.nodes:
        code, _ = rest(state, node.name, "primary")
        if code == 200:
            return node.name
    return None


def promoted_at(state: LabState, name: str, *, since: float) -> float | None:
    """When Patroni promoted ``name`` after ``since`` (epoch seconds), from its timeline history."""
    code, history = rest(state, name, "history")
    return promotion_moment(history, name=name, since=since) if code == 200 else None


def promotion_moment(history, *, name: str, since: float) -> float | None:
    """The first timeline switch at or after ``since`` that made ``name`` the leader, in epoch seconds.
    ``history`` is Patroni's ``GET /history``: [timeline, LSN, reason, time of the switch, new leader]
    per switch (older Patroni versions leave the leader out). None when no switch is recorded."""
    if not isinstance(history, list):
        return None
    moments = []
    for entry in history:
        if not isinstance(entry, list) or len(entry) < 4 or not entry[3]:
            continue
        try:
            moment = datetime.fromisoformat(str(entry[3])).timestamp()
        except ValueError:
            continue
        if moment >= since and (len(entry) < 5 or entry[4] in (None, name)):
            moments.append(moment)
    return min(moments) if moments else None


def cluster_status(state: LabState) -> dict:
    nodes = []
    for node in state.nodes:
        code, body = rest(state, node.name, "patroni")
        nodes.append(
            {
                "name": node.name,
                "pg_port": node.pg_port,
                "rest_port": node.rest_port,
                "patroni_pid": node.patroni_pid,
                "patroni_alive": process_alive(node.patroni_pid),
                "agent_alive": process_alive(node.agent_pid),
                "postmaster_pid": postmaster_pid(node),
                "role": body.get("role"),
                "state": body.get("state"),
                "timeline": body.get("timeline"),
                "replication": body.get("replication", []),
                "rest_status": code,
            }
        )
    return {
        "etcd": {"pid": state.etcd_pid, "alive": process_alive(state.etcd_pid), "url": state.etcd_url},
        "leader": cluster_leader(state),
        "nodes": nodes,
        "dsn": state.dsn(),
    }


def sync_standby(state: LabState) -> str | None:
    """Name of the node the leader reports as a streaming synchronous standby, if any."""
    leader = cluster_leader(state)
    if leader is None:
        return None
    _, body = rest(state, leader, "patroni")
    for replica in body.get("replication", []) or []:
        if replica.get("state") == "streaming" and replica.get("sync_state") in {"sync", "quorum"}:
            return replica.get("application_name")
    return None


def wait_for_sync_standby(state: LabState, *, timeout: float = 120.0, expected: str | None = None) -> str:
    def ready():
        name = sync_standby(state)
        return name if name and (expected is None or name == expected) else None

    return _wait(ready, timeout=timeout, what=f"a streaming synchronous standby{f' ({expected})' if expected else ''}")


def switchover(state: LabState, *, candidate: str | None = None) -> dict:
    """Planned switchover: the request ``patronictl switchover`` sends, posted to the leader's REST API.

    Going to the API directly keeps a CLI's start-up (about a second of Python imports on a busy
    2-core machine, while writes still succeed) out of the measured RTO. Patroni answers once the
    candidate holds the leader lock."""
    leader = cluster_leader(state)
    if leader is None:
        raise HaLabError("No leader to switch over from.")
    candidate = candidate or next(n.name for n in state.nodes if n.name != leader)
    url = f"http://127.0.0.1:{state.node(leader).rest_port}/switchover"
    started_at = time.time()
    try:
        response = requests.post(url, json={"leader": leader, "candidate": candidate}, timeout=120)
    except requests.RequestException as exc:
        raise HaLabError(f"Patroni switchover request to {leader} failed: {exc}") from exc
    if response.status_code != 200:
        raise HaLabError(f"Patroni refused the switchover ({response.status_code}): {response.text.strip()[:500]}")
    return {"from": leader, "to": candidate, "started_at": started_at, "output": response.text[-2000:]}


def _check_reachable_by_postgres(base: Path) -> None:
    """The postgres user must traverse every parent of the lab directory (not so under /root)."""
    if os.geteuid() != 0:
        return
    uid = pwd.getpwnam(POSTGRES_OS_USER).pw_uid
    for parent in [p for p in base.resolve().parents if p.exists()]:
        mode = parent.stat()
        if parent.stat().st_uid != uid and not mode.st_mode & 0o001:
            raise HaLabError(
                f"The postgres user cannot enter {parent}; set PIMLAB_HA_DIR to a directory it can reach, "
                "e.g. /tmp/pimlab-ha."
            )


def _check_ports_free(first: int) -> None:
    import socket

    for port in (first, first + 1, first + 10, first + 11, first + 20, first + 21):
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError as exc:
                raise HaLabError(
                    f"Port {port} is in use; choose another PIMLAB_HA_BASE_PORT (below {32768 - 40})."
                ) from exc


def _etcd_healthy(state: LabState) -> bool:
    try:
        return requests.get(f"{state.etcd_url}/health", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def _create_database(state: LabState) -> bool:
    try:
        with psycopg.connect(state.dsn(dbname="postgres"), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
        return True
    except psycopg.Error:
        return False


def _wait(check, *, timeout: float, what: str, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise HaLabError(f"Timed out after {timeout:.0f} s waiting for {what}; see the logs under {lab_dir()}.")
        time.sleep(interval)

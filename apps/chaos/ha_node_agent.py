"""The HA lab's node agent: the init of one node, and the one that releases a dead node's leader lock.

    python -I apps/chaos/ha_node_agent.py <lab>/state.json node0 <namespace> <scope>

One agent per node, started by ``lab_up`` before the node, playing the part a container's init
(tini, or Patroni itself as PID 1) and the kubelet play in Kubernetes:

- **init.** It starts the node's Patroni agent when ``lab_ha`` asks (a ``patroni.start.json``
  request beside the node's config), as its own child, and it is a child subreaper: the
  postmaster Patroni launches (through a helper that exits) is re-parented to it, and it reaps
  every exited child at once. Without that the postmaster is re-parented to the machine's PID 1,
  which may reap it seconds later; meanwhile Patroni sees the zombie as a running postmaster and
  waits on it (1 s more per switchover, 1–2 s more per postmaster crash).
- **dead-leader release.** When the Patroni agent it started and the node's postmaster are both
  gone from this host's process table (a pod kill), it deletes the Patroni leader key in etcd, in
  one etcd transaction that deletes it only if the key still names this node. The standby's
  Patroni watches that key and takes the lock at once instead of waiting for the lease (``ttl``,
  at least 20 s in Patroni) to expire.

It never acts on a node that only stopped answering (a partition, a frozen host, a SIGSTOPped
Patroni) or whose postmaster or Patroni still runs: those keep Patroni's own rule, the lease. A pod
kill (SIGKILL of Patroni and the postmaster) leaves the agent running, as it leaves the kubelet.
Trade-offs: ``docs/runbooks/30_sql-failover.md`` ("Failover timings").

Standard library only: it runs outside Django, as the parent of processes it must outlive.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

POLL_SECONDS = 0.1
PR_SET_CHILD_SUBREAPER = 36
START_REQUEST = "patroni.start.json"
STARTED = "patroni.started.json"


def process_alive(pid: int | None) -> bool:
    """True for a live process; a zombie (a SIGKILLed process nobody reaped yet) is dead."""
    if not pid:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in {"Z", "X"}


def postmaster_pid(data_dir: str) -> int | None:
    try:
        return int((Path(data_dir) / "postmaster.pid").read_text().splitlines()[0].strip())
    except (OSError, IndexError, ValueError):
        return None


def leader_key(namespace: str, scope: str) -> str:
    """Patroni's key for the leader lock: ``/<namespace>/<scope>/leader`` with repeated slashes folded."""
    return re.sub("/+", "/", f"/{namespace}/{scope}/leader")


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def leader_release(etcd_url: str, key: str, node: str, *, timeout: float = 2.0) -> bool:
    """Delete ``key`` if and only if its value is ``node`` (an etcd v3 transaction); True if deleted."""
    body = {
        "compare": [{"key": _b64(key), "target": "VALUE", "result": "EQUAL", "value": _b64(node)}],
        "success": [{"requestDeleteRange": {"key": _b64(key)}}],
    }
    request = urllib.request.Request(  # noqa: S310 - the lab's own etcd over http
        f"{etcd_url}/v3/kv/txn",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - see above
        return bool(json.loads(response.read()).get("succeeded"))


def _log(message: str, **fields) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}Z"
    print(json.dumps({"at": stamp, "event": message, **fields}), flush=True)


def _become_subreaper() -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _reap() -> list[int]:
    reaped = []
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return reaped
        if pid == 0:
            return reaped
        reaped.append(pid)


def reap_on_child_exit() -> None:
    """Reap each child the moment it exits (SIGCHLD), not at the next poll. Patroni takes a zombie
    postmaster for a running one: once pg_control says "shut down" while it still sees the
    postmaster, its graceful demote waits one more second before it releases the leader key."""
    signal.signal(signal.SIGCHLD, lambda _signum, _frame: _reap())


def _start_patroni(node_dir: Path) -> int | None:
    """Serve a start request from ``lab_ha``: run Patroni as this agent's child, answer with its PID."""
    request_path = node_dir / START_REQUEST
    try:
        request = json.loads(request_path.read_text())
    except (OSError, ValueError):
        return None
    request_path.unlink(missing_ok=True)
    user = {"user": request["uid"], "group": request["gid"], "extra_groups": []} if request.get("uid") else {}
    with open(request["log_file"], "ab") as log:
        process = subprocess.Popen(
            request["argv"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=request["cwd"],
            env=request["env"],
            start_new_session=True,
            **user,
        )
    answer = node_dir / f".{STARTED}"
    answer.write_text(json.dumps({"request_id": request["request_id"], "pid": process.pid}))
    answer.replace(node_dir / STARTED)
    return process.pid


def _node(state_path: Path, name: str) -> tuple[dict, dict] | None:
    try:
        state = json.loads(state_path.read_text())
    except (OSError, ValueError):
        return None  # the lab is being written or taken down
    for node in state.get("nodes", []):
        if node.get("name") == name:
            return state, node
    return None


def run(state_path: Path, name: str, *, namespace: str, scope: str) -> None:
    key = leader_key(namespace, scope)
    found = _node(state_path, name)
    if found is None:
        _log("agent_stopped", node=name, reason="the node is not in the lab's state file")
        return
    node_dir = Path(found[1]["config_file"]).parent
    _log("agent_started", node=name, key=key, subreaper=_become_subreaper())
    reap_on_child_exit()
    patroni: int | None = None  # the Patroni agent this agent started and has not yet seen die
    while state_path.exists():
        _reap()
        started = _start_patroni(node_dir) if (node_dir / START_REQUEST).exists() else None
        if started is not None:
            patroni = started
            _log("patroni_started", node=name, patroni_pid=started)
        found = _node(state_path, name)
        if patroni is not None and found is not None and not process_alive(patroni):
            state, node = found
            if not process_alive(postmaster_pid(node["data_dir"])):
                etcd_url = f"http://127.0.0.1:{state['etcd_client_port']}"
                try:
                    released = leader_release(etcd_url, key, name)
                except (OSError, urllib.error.URLError, ValueError) as exc:
                    _log("leader_release_failed", node=name, error=str(exc))
                    time.sleep(POLL_SECONDS)
                    continue
                _log("node_dead", node=name, patroni_pid=patroni, leader_released=released)
                patroni = None  # until lab_ha starts the node again
        time.sleep(POLL_SECONDS)
    _log("agent_stopped", node=name, reason="the lab's state file is gone")


def main(argv: list[str]) -> int:
    if len(argv) != 5:
        print("usage: ha_node_agent.py STATE_JSON NODE NAMESPACE SCOPE", file=sys.stderr)
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        run(Path(argv[1]), argv[2], namespace=argv[3], scope=argv[4])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

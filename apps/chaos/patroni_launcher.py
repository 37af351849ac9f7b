"""Start Patroni with a shorter stop-polling interval (run by Patroni's own interpreter).

    /opt/pimlab-patroni/bin/python3 -I patroni_launcher.py <poll seconds> <patroni.yml>

During a graceful demote (a planned switchover) Patroni waits for PostgreSQL to stop by running
``SELECT 1`` on its own connection, and then reading pg_control, once per
``patroni.postgresql.STOP_POLLING_INTERVAL`` (1 s in Patroni 4.1.5, not a setting). The first poll
follows the stop signal at once and nearly always still succeeds, so every switchover waited a
whole second before Patroni released the leader key. A shorter interval is not free either: a
pg_control read that lands between the shutdown checkpoint and the postmaster's exit (a few tens
of ms, plus the read itself) makes Patroni sleep one more second before the release. 0.25 s
balances the two (measured, runbook 30: switchover median 2.26 s at 1 s, 1.52 s at 0.25 s; at
0.1 s the late read happened in 2 of 3 switchovers).
Trade-offs: docs/runbooks/30_sql-failover.md ("Failover timings")."""

import sys


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    poll_seconds = float(argv[1])
    import patroni.postgresql
    from patroni.__main__ import main as patroni_main

    if not hasattr(patroni.postgresql, "STOP_POLLING_INTERVAL"):
        # Another Patroni release: refuse rather than silently run with its own timings.
        print("patroni.postgresql.STOP_POLLING_INTERVAL is gone in this Patroni; see runbook 30", file=sys.stderr)
        return 2
    patroni.postgresql.STOP_POLLING_INTERVAL = poll_seconds
    sys.argv = ["patroni", *argv[2:]]
    return patroni_main()


if __name__ == "__main__":
    sys.exit(main(sys.argv))

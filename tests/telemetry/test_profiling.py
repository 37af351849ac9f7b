"""Continuous profiling starts only when PYROSCOPE_SERVER_ADDRESS is set (pure configuration logic)."""

import pyroscope

from apps.telemetry.profiling import configure_profiling_from_env


def test_profiling_is_off_without_a_server(monkeypatch):
    calls = []
    monkeypatch.setattr(pyroscope, "configure", lambda **kwargs: calls.append(kwargs))
    assert configure_profiling_from_env(service_name="svc", environ={}) is False
    assert calls == []


def test_profiling_reports_to_the_configured_server(monkeypatch):
    calls = []
    monkeypatch.setattr(pyroscope, "configure", lambda **kwargs: calls.append(kwargs))
    environ = {"PYROSCOPE_SERVER_ADDRESS": "http://127.0.0.1:4040", "PIMLAB_PROCESS_ROLE": "worker"}
    assert configure_profiling_from_env(service_name="svc", environ=environ) is True
    assert calls == [
        {
            "application_name": "svc",
            "server_address": "http://127.0.0.1:4040",
            "sample_rate": 100,
            "tags": {"process": "worker"},
        }
    ]

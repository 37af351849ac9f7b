BEAT_SCHEDULE = {
    "projections-drain": {"task": "projections.drain", "schedule": 2.0, "options": {"expires": 10}},
    "projections-backlog-check": {"task": "projections.backlog_check", "schedule": 15.0, "options": {"expires": 30}},
}

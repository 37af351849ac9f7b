"""Embedded profile for `make run`: SQLite files and a server-less broker unless env says otherwise."""

import os

from .base import *  # noqa: F403

DEBUG = True

# gunicorn serves static files through WhiteNoise; without collectstatic, find them in the apps.
WHITENOISE_USE_FINDERS = True

# SLOs: the evaluation runs in the Celery worker, not in the web process, so the built-in sampler
# reads the web server's /metrics (gunicorn's default address). Set PIMLAB_SLO_SCRAPE_URLS to
# other URLs, or to an empty string to read the evaluating process's own registry.
PIMLAB_SLO_SCRAPE_URLS = [
    u for u in os.environ.get("PIMLAB_SLO_SCRAPE_URLS", "http://127.0.0.1:8000/metrics").split(",") if u
]

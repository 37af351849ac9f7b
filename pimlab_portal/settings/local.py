"""Embedded profile for `make run`: SQLite files and a server-less broker unless env says otherwise."""

from .base import *  # noqa: F403

DEBUG = True

# gunicorn serves static files through WhiteNoise; without collectstatic, find them in the apps.
WHITENOISE_USE_FINDERS = True

"""Embedded profile for `make run`: SQLite files and a server-less broker unless env says otherwise."""

from .base import *  # noqa: F403

DEBUG = True

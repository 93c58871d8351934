"""The app factory uvicorn's worker processes call (``driftline api --workers N``)."""

from __future__ import annotations

from fastapi import FastAPI

from store.engine import make_engine
from streams.api.app import create_app
from streams.config.settings import load_settings


def app() -> FastAPI:
    """The API for the settings of the environment (``DRIFTLINE_CONFIG``, ``DRIFTLINE_*``)."""
    settings = load_settings()
    return create_app(make_engine(settings.database_url), settings.api)

"""Alembic environment of the store (a package so that installs ship it)."""

"""Alembic migrations for the master DB (a package so the revision files ship in wheels)."""

"""The master DB: identity and everything that spans users (SQLite by default, or PostgreSQL).

``MasterDB`` owns the engine and migrations; ``users`` holds the Core fast path for user rows
and database placement; ``models`` holds the SQLAlchemy models for everything else.
"""

from vivim.store.master.db import MasterDB

__all__ = ["MasterDB"]

"""Schema drift: does a migrated database match the models? (Alembic's compare_metadata.)"""

from __future__ import annotations

import re
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import JSON, Column
from sqlalchemy.engine import Connection

from vivim.store.master.models import Base

_CAST = re.compile(r"::[a-z ]+$")


def _compare_server_default(
    context: MigrationContext,
    inspected_column: dict[str, Any],
    metadata_column: Column[Any],
    inspected_default: str | None,
    metadata_default: Any,
    rendered_metadata_default: str | None,
) -> bool | None:
    """Compare JSON defaults as text; leave every other column to Alembic.

    Alembic asks PostgreSQL whether ``'{}'::json = '{}'``, but json has no equality
    operator, so the stock comparison errors out instead of answering.
    """
    if not isinstance(metadata_column.type, JSON):
        return None
    if inspected_default is None or rendered_metadata_default is None:
        return inspected_default != rendered_metadata_default
    return _CAST.sub("", inspected_default) != _CAST.sub("", rendered_metadata_default)


def schema_differences(connection: Connection) -> list[Any]:
    """Every difference between the database behind ``connection`` and the models.

    Empty means the migrations and the models agree: tables, columns, types, nullability,
    server defaults, indexes, unique constraints and foreign keys.
    """
    context = MigrationContext.configure(
        connection,
        opts={"compare_type": True, "compare_server_default": _compare_server_default},
    )
    return list(compare_metadata(context, Base.metadata))

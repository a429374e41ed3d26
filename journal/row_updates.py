"""Rows of one model updated in one round trip, without the ORM's per-query SQL building: the
live step writes a few rows per recording every second, and compiling an UPDATE cost more than
running it."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from django.db import connection, models


def update_rows(rows: Sequence[models.Model], field_names: Sequence[str]) -> None:
    """`UPDATE … SET field = value … WHERE pk = …` for each row with its in-memory values, as one
    executemany (psycopg pipelines it). The values go through each field's `get_db_prep_save`, as
    `save()` would send them. All rows are of one model."""
    if not rows:
        return
    model = type(rows[0])
    fields = [model._meta.get_field(name) for name in field_names]
    with connection.cursor() as cursor:
        cursor.executemany(_update_sql(model, tuple(field_names)),
                           [[f.get_db_prep_save(getattr(row, f.attname), connection) for f in fields] + [row.pk] for row in rows])


@functools.cache
def _update_sql(model: type[models.Model], field_names: tuple[str, ...]) -> str:
    quote = connection.ops.quote_name
    columns = [model._meta.get_field(name).column for name in field_names]
    return (f"UPDATE {quote(model._meta.db_table)} SET {', '.join(f'{quote(column)} = %s' for column in columns)} "
            f"WHERE {quote(model._meta.pk.column)} = %s")

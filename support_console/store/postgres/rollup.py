"""The customer roll-up on PostgreSQL (``tables.customers_rollup``), kept by triggers whoever writes.

* **Version 1** (:func:`create_row_triggers`): a plpgsql row trigger re-runs the roll-up of the changed
  conversation's customer (and of its old customer when it moved) after each row.
* **Version 15** (:func:`create_statement_triggers`): statement triggers over transition tables instead.
  Why: a row trigger rolled up a customer once per row, so the importer's one INSERT of a batch's 300 new
  conversations ran 300 customer UPDATEs, half of that statement's time and about a tenth of an import's
  (0.5-0.7 s of 5-6 s for 100,000 messages, measured). A statement trigger sees every row the statement
  changed (``REFERENCING NEW TABLE`` / ``OLD TABLE``) and rolls up each of their customers once, in one
  UPDATE; a one-row write (an agent's reply) costs what it did. PostgreSQL allows transition tables only on
  a trigger of one event and no column list, so there are three, and the UPDATE one keeps the rows whose
  roll-up columns changed (:data:`ROLLUP_COLUMNS`), with their old customer and their new one.
"""

from __future__ import annotations

from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from support_console.store.tables import CUSTOMERS, customer_rollup, customers_rollup

#: What changes a customer's roll-up (``tables.customers_rollup``).
ROLLUP_COLUMNS: Final = ("status", "unread_count", "last_activity", "created_at", "customer_id")

_ROW_FUNCTION: Final = "support_console_rollup"
_ROW_TRIGGER: Final = "conversations_rollup"


def _sql(conn: Connection, statement: sa.Update) -> str:
    compiled = statement.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
    return str(compiled).replace("%", "%%")  # the driver's placeholder character


def _function(conn: Connection, name: str, body: str) -> None:
    """A plpgsql trigger function running ``body`` (statements, the last without its ``;``)."""
    conn.exec_driver_sql(
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $body$ "
        f"BEGIN {body}; RETURN NULL; END $body$"
    )


def create_row_triggers(conn: Connection) -> None:
    """Migration 1: the row trigger (replaced by :func:`create_statement_triggers` in version 15)."""

    def body(ref: str) -> str:
        return _sql(conn, customer_rollup(sa.literal_column(f"{ref}.customer_id")))

    _function(
        conn,
        _ROW_FUNCTION,
        f"IF TG_OP IN ('INSERT', 'UPDATE') THEN {body('NEW')}; END IF; "
        "IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.customer_id IS DISTINCT FROM NEW.customer_id) "
        f"THEN {body('OLD')}; END IF",
    )
    conn.exec_driver_sql(
        f"CREATE TRIGGER {_ROW_TRIGGER} AFTER INSERT OR DELETE OR UPDATE OF {', '.join(ROLLUP_COLUMNS)} "
        f"ON conversations FOR EACH ROW EXECUTE FUNCTION {_ROW_FUNCTION}()"
    )


def _rows(name: str) -> sa.TableClause:
    """A transition table, as the statements over it see it."""
    return sa.table(name, sa.column("id"), *(sa.column(column) for column in ROLLUP_COLUMNS))


def _owners_of_changed() -> sa.CompoundSelect[Any]:
    """The old and the new customer of each updated row whose roll-up columns changed."""
    new, old = _rows("new_rows").alias("n"), _rows("old_rows").alias("o")
    changed = sa.or_(*(old.c[column].is_distinct_from(new.c[column]) for column in ROLLUP_COLUMNS))
    pairs = sa.join(new, old, old.c.id == new.c.id)
    return sa.union(
        sa.select(new.c.customer_id).select_from(pairs).where(changed),
        sa.select(old.c.customer_id).select_from(pairs).where(changed),
    )


def create_statement_triggers(conn: Connection) -> None:
    """Migration 15: one roll-up per statement for every customer it touched (see the module docstring)."""
    inserted = sa.select(_rows("new_rows").c.customer_id)
    deleted = sa.select(_rows("old_rows").c.customer_id)
    triggers = {
        "inserted": ("INSERT", "NEW TABLE AS new_rows", inserted),
        "updated": ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows", _owners_of_changed()),
        "deleted": ("DELETE", "OLD TABLE AS old_rows", deleted),
    }
    conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {_ROW_TRIGGER} ON conversations")
    conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {_ROW_FUNCTION}()")
    for suffix, (event, transition, owners) in triggers.items():
        function = f"{_ROW_FUNCTION}_{suffix}"
        _function(conn, function, _sql(conn, customers_rollup(CUSTOMERS.c.id.in_(owners))))
        conn.exec_driver_sql(
            f"CREATE TRIGGER {_ROW_TRIGGER}_{suffix} AFTER {event} ON conversations "
            f"REFERENCING {transition} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        )

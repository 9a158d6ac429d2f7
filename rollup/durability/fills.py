"""The fill history: a table of the journal's database, written with the journal's rows.

A fill is recorded in the same SQLite transaction as the request that made it (``Journal``),
so the history holds exactly the fills of the journaled requests: nothing acknowledged is
missing after a crash and nothing is written twice by a replay (recovery does not write). Fill
ids are 1, 2, ... in journal order. Amounts are kept exactly (a JSON array per fill); the maker
and taker ids are columns too, for the per-account query.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from operator import attrgetter
from typing import NamedTuple

SCHEMA = ("CREATE TABLE IF NOT EXISTS fills (id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, "
          "maker INTEGER, taker INTEGER, body TEXT NOT NULL)")
_I63 = 1 << 63


class StoredFill(NamedTuple):
    id: int
    seq: int  # the journal row of the request that made it
    maker: int
    taker: int
    maker_order: int
    taker_order: int
    asset: int
    size: int
    price: int
    taker_side: int
    maker_fee: int
    taker_fee: int


_VALUES = attrgetter(*StoredFill._fields[2:])
_BODY = "[" + ",".join(["%d"] * len(StoredFill._fields[2:])) + "]"  # exact for any int


def rows(first_id: int, seq: int, fills: Iterable) -> list[tuple]:
    """The table rows of one request's fills (objects with ``StoredFill``'s fields after
    ``seq``), numbered from ``first_id``."""
    out = []
    for k, f in enumerate(fills):
        v = _VALUES(f)
        m, t = v[0], v[1]
        out.append((first_id + k, seq, m if 0 <= m < _I63 else None,
                    t if 0 <= t < _I63 else None, _BODY % v))
    return out


def total(db: sqlite3.Connection) -> int:
    return db.execute("SELECT COALESCE(MAX(id), 0) FROM fills").fetchone()[0]


def page(db: sqlite3.Connection, since: int, limit: int,
         account: int | None = None) -> list[StoredFill]:
    """Up to ``limit`` fills with id > ``since`` (only those where ``account`` is maker or
    taker, if given), in id order."""
    if account is None:
        cur = db.execute("SELECT id, seq, body FROM fills WHERE id > ? ORDER BY id LIMIT ?",
                         (since, limit))
    elif not 0 <= account < _I63:
        return []
    else:
        cur = db.execute("SELECT id, seq, body FROM fills WHERE id > ? AND "
                         "(maker = ? OR taker = ?) ORDER BY id LIMIT ?",
                         (since, account, account, limit))
    return [StoredFill(i, s, *json.loads(body)) for i, s, body in cur]

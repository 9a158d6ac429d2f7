"""A journal connection whose COMMITs can be held or failed: what a slow or failing fsync looks
like from the sequencer (``Journal.db`` replaced by ``CommitGate(journal.db)``)."""

from __future__ import annotations

import sqlite3
import threading


class CommitGate:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.fail_next = False  # the next COMMIT raises (as a disk I/O error would), once
        self.hold: threading.Event | None = None  # set: COMMITs wait for it
        self.entered = threading.Event()  # a COMMIT has started
        self.commits = 0

    def execute(self, sql: str, *args):
        if sql == "COMMIT":
            self.entered.set()
            if self.hold is not None:
                assert self.hold.wait(60), "the held COMMIT was never released"
            if self.fail_next:
                self.fail_next = False
                raise sqlite3.OperationalError("disk I/O error (injected)")
            self.commits += 1
        return self.db.execute(sql, *args)

    def __getattr__(self, name: str):
        return getattr(self.db, name)

"""Back up a sessions database, live or not: ``python -m regime_trader.serve.backup SRC DEST``.

SQLite's online backup API copies a consistent snapshot (the WAL included) while the service
keeps writing; the copy is checked (``PRAGMA integrity_check``) and its row counts printed.
Copying ``sessions.db`` with ``cp`` while the service runs can miss the rows still in
``sessions.db-wal``; after a clean shutdown the WAL is checkpointed and ``cp`` is safe too.
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

from regime_trader.errors import ConfigError


def backup(src: str | Path, dest: str | Path) -> dict[str, int]:
    """Copy the sessions database ``src`` to ``dest`` (replaced); the copy's row counts."""
    src, dest = Path(src), Path(dest)
    if not src.is_file():
        raise ConfigError(f"no sessions database at '{src}'")
    if dest.resolve() == src.resolve():
        raise ConfigError("the backup must go to another file than the database")
    tmp = dest.with_name(dest.name + ".part")
    tmp.unlink(missing_ok=True)
    source = sqlite3.connect(str(src))
    target = sqlite3.connect(str(tmp))
    try:
        source.backup(target)
        counts = _check(target)
    finally:
        target.close()
        source.close()
    tmp.replace(dest)
    return counts


def _check(db: sqlite3.Connection) -> dict[str, int]:
    status = db.execute("PRAGMA integrity_check").fetchone()[0]
    if status != "ok":
        raise ConfigError(f"the backup copy fails SQLite's integrity check: {status}")
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {t: int(db.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0]) for t in tables}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m regime_trader.serve.backup SESSIONS_DB DEST", file=sys.stderr)
        return 2
    try:
        counts = backup(args[0], args[1])
    except (ConfigError, sqlite3.Error) as exc:
        print(f"backup failed: {exc}", file=sys.stderr)
        return 2
    rows = ", ".join(f"{t} {n:,}" for t, n in sorted(counts.items()))
    print(f"backed up {args[0]} to {args[1]} ({rows})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

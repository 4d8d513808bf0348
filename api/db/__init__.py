"""The service's database: engines for SQLite (WAL) or PostgreSQL, and the Alembic migrations run on start."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text

MIGRATIONS = Path(__file__).parent / "migrations"


def default_url(data_dir: Path) -> str:
    return f"sqlite:///{Path(data_dir).resolve() / 'triage.sqlite'}"


def make_engine(url: str, *, immediate: bool = False) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout, foreign keys, and (``immediate``) BEGIN IMMEDIATE
    so that writers queue for the lock up front instead of failing to upgrade a read lock."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, pool_size=10,
                               max_overflow=20)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across a process crash / kill -9
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent; concurrent starters wait for each other)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(72617)"))  # one migrator at a time
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")

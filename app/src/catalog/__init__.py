"""catalog: the N-tier service the strata platform runs (FastAPI on gunicorn, PostgreSQL)."""

__version__ = "1.0.0"

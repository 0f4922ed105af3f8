"""Persistence: a small document store (SQLite by default, or in memory for `--ephemeral`)."""

from podid.store.sqlite import Store

__all__ = ["Store"]

"""LLMDB from Python: a bitemporal memory store for agents, embedded in one file.

Every fact keeps a valid time (when it is true in the world) and a transaction time
(when the database learned it); nothing is overwritten. This package calls the C library
libllmdb.so (include/llmdb.h) through ctypes.

    import llmdb
    with llmdb.open("agent.llmdb") as db:
        db.put("agent:knowledge:jwt", {"rotate": "weekly"})
        db.get("agent:knowledge:jwt")

Times: wherever a time is taken, an aware datetime, a naive datetime (taken as UTC) or an
int (microseconds since 1970-01-01T00:00:00Z); times returned are aware UTC datetimes,
None for an open end. See docs/embedding.md.
"""

from __future__ import annotations

import os
from typing import Optional, Union

from ._db import (
    AsOf,
    CodeRegistry,
    Commit,
    Database,
    Fact,
    Key,
    QueryResult,
    Run,
    Scan,
    Time,
    Transaction,
    TxAt,
    Vectors,
    open_database,
)
from ._errors import (
    Busy,
    BufferTooSmall,
    Closed,
    CodeFailed,
    CodeLimit,
    CodeUnavailable,
    Conflict,
    Corrupted,
    DiskFull,
    EmptyKey,
    Error,
    Forbidden,
    FormatVersion,
    HookRejected,
    InternalError,
    InvalidArgument,
    InvalidHandle,
    InvalidJSON,
    InvalidModule,
    InvalidQuery,
    InvalidSchema,
    InvalidTimeRange,
    InvalidUTF8,
    InvalidValue,
    KeyTooLong,
    MapFull,
    NotADatabase,
    NotFound,
    NullArgument,
    NullValue,
    ReadOnly,
    ReservedPartition,
    SchemaViolation,
    StorageError,
    TxTimeNotIncreasing,
    UnknownValueTag,
)

__version__ = "0.1.0"


def open(
    path: Union[str, "os.PathLike[str]"],
    *,
    read_only: bool = False,
    create: bool = True,
    sync: str = "full",
    map_size: Optional[int] = None,
    max_map_size: Optional[int] = None,
) -> Database:
    """Opens (or creates) the database file at `path`, plus LMDB's `path-lock` beside it.

    read_only: writes raise ReadOnly. create: create the file if it does not exist.
    sync: "full" (fsync every commit: an acknowledged commit survives a crash), "meta"
    (a crash may lose the last commits) or "none" (tests, bulk loads). map_size: the
    initial map in bytes (default 64 MiB; it grows as needed up to max_map_size, default
    1 TiB). Any number of processes may open one file.
    """
    return open_database(
        path, read_only=read_only, create=create, sync=sync, map_size=map_size, max_map_size=max_map_size
    )


__all__ = [
    "AsOf", "Busy", "BufferTooSmall", "Closed", "CodeFailed", "CodeLimit", "CodeRegistry",
    "CodeUnavailable", "Commit", "Conflict", "Corrupted", "Database", "DiskFull", "EmptyKey",
    "Error", "Fact", "Forbidden", "FormatVersion", "HookRejected", "InternalError",
    "InvalidArgument", "InvalidHandle", "InvalidJSON", "InvalidModule", "InvalidQuery",
    "InvalidSchema", "InvalidTimeRange", "InvalidUTF8", "InvalidValue", "Key", "KeyTooLong",
    "MapFull", "NotADatabase", "NotFound", "NullArgument", "NullValue", "QueryResult", "ReadOnly",
    "ReservedPartition", "Run", "Scan", "SchemaViolation", "StorageError", "Time", "Transaction",
    "TxAt", "TxTimeNotIncreasing", "UnknownValueTag", "Vectors", "open",
]

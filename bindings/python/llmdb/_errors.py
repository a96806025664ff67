"""LLMDB's errors as Python exceptions: one class per llmdb_status."""

from __future__ import annotations

from . import _capi


class Error(Exception):
    """An error of LLMDB.

    `status` is the C status (an `llmdb_status`, for example 21) and `code` its stable
    snake_case name (`"key_too_long"`, the `code` of the REST API's errors); the message
    is the library's. Each status has its own subclass.
    """

    status: int | None = None
    code: str = "error"

    def __init__(self, message: str, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status}, code={self.code!r})"


# One class per status; the docstring says when it is raised.


class InvalidHandle(Error):
    """A closed database, or a finished transaction or iterator, was used; also what a
    call raises when another thread closes its database while it runs."""

    status = _capi.E_INVALID_HANDLE
    code = "invalid_handle"


class NullArgument(Error):
    """A required pointer argument was NULL (only through the low-level module)."""

    status = _capi.E_NULL_ARGUMENT
    code = "null_argument"


class InvalidUTF8(Error):
    """A text argument was not valid UTF-8."""

    status = _capi.E_INVALID_UTF8
    code = "invalid_utf8"


class BufferTooSmall(Error):
    """llmdb_get_into's buffer was too small (handled inside the package)."""

    status = _capi.E_BUFFER_TOO_SMALL
    code = "buffer_too_small"


class InternalError(Error):
    """A failure the library did not expect."""

    status = _capi.E_INTERNAL
    code = "internal"


class Forbidden(Error):
    """The operation is not allowed."""

    status = _capi.E_FORBIDDEN
    code = "forbidden"


class Busy(Error):
    """The database is busy; try again."""

    status = _capi.E_BUSY
    code = "busy"


class EmptyKey(Error):
    """A key was empty."""

    status = _capi.E_EMPTY_KEY
    code = "empty_key"


class KeyTooLong(Error):
    """A key is longer than LMDB allows (511 bytes with LLMDB's 20 bytes of partition and times)."""

    status = _capi.E_KEY_TOO_LONG
    code = "key_too_long"


class NullValue(Error):
    """JSON null (None) was given as a value."""

    status = _capi.E_NULL_VALUE
    code = "null_value"


class InvalidJSON(Error):
    """Text that is not JSON."""

    status = _capi.E_INVALID_JSON
    code = "invalid_json"


class InvalidValue(Error):
    """Bytes that do not decode as their value type."""

    status = _capi.E_INVALID_VALUE
    code = "invalid_value"


class InvalidTimeRange(Error):
    """A valid time range that is empty or reversed (valid_to <= valid_from)."""

    status = _capi.E_INVALID_TIME_RANGE
    code = "invalid_time_range"


class TxTimeNotIncreasing(Error):
    """An explicit transaction time not after the last one."""

    status = _capi.E_TX_TIME_NOT_INCREASING
    code = "tx_time_not_increasing"


class UnknownValueTag(Error):
    """A value type the library does not know."""

    status = _capi.E_UNKNOWN_VALUE_TAG
    code = "unknown_value_tag"


class NotADatabase(Error):
    """The file is not an LLMDB database."""

    status = _capi.E_NOT_A_DATABASE
    code = "not_a_database"


class FormatVersion(Error):
    """The file's format version is not one this library reads."""

    status = _capi.E_FORMAT_VERSION
    code = "format_version"


class ReadOnly(Error):
    """A write to a database opened read-only."""

    status = _capi.E_READ_ONLY
    code = "read_only"


class MapFull(Error):
    """The database reached its largest map size."""

    status = _capi.E_MAP_FULL
    code = "map_full"


class DiskFull(Error):
    """The disk is full."""

    status = _capi.E_DISK_FULL
    code = "disk_full"


class Corrupted(Error):
    """The file is damaged."""

    status = _capi.E_CORRUPTED
    code = "corrupted"


class InvalidArgument(Error, ValueError):
    """An argument out of its range or form (also a ValueError)."""

    status = _capi.E_INVALID_ARGUMENT
    code = "invalid_argument"


class StorageError(Error):
    """Another LMDB failure."""

    status = _capi.E_STORAGE
    code = "storage"


class Closed(Error):
    """The server's database is closing (REST's `closed`). Not raised by this package: a
    call racing with Database.close() raises InvalidHandle."""

    status = _capi.E_CLOSED
    code = "closed"


class ReservedPartition(Error):
    """Partition 0xFFFFFFFF is LLMDB's own."""

    status = _capi.E_RESERVED_PARTITION
    code = "reserved_partition"


class NotFound(Error):
    """No such module, memory, collection, operation, ... (a get of an absent key is None instead)."""

    status = _capi.E_NO_SUCH
    code = "no_such"


class InvalidModule(Error):
    """A WebAssembly module that is malformed or does not fit the ABI."""

    status = _capi.E_INVALID_MODULE
    code = "invalid_module"


class HookRejected(Error):
    """A hook rejected the transaction."""

    status = _capi.E_HOOK_REJECTED
    code = "hook_rejected"


class CodeFailed(Error):
    """User code trapped or failed."""

    status = _capi.E_CODE_FAILED
    code = "code_failed"


class CodeLimit(Error):
    """User code exceeded a limit (memory, fuel, time)."""

    status = _capi.E_CODE_LIMIT
    code = "code_limit"


class CodeUnavailable(Error):
    """User code is needed but this library runs none."""

    status = _capi.E_CODE_UNAVAILABLE
    code = "code_unavailable"


class Conflict(Error):
    """An expectation (compare-and-set) did not hold."""

    status = _capi.E_CONFLICT
    code = "conflict"


class SchemaViolation(Error):
    """A document does not match its collection's schema."""

    status = _capi.E_SCHEMA_VIOLATION
    code = "schema_violation"


class InvalidSchema(Error):
    """A schema that is not valid."""

    status = _capi.E_INVALID_SCHEMA
    code = "invalid_schema"


class InvalidQuery(Error):
    """LQL that does not parse or run."""

    status = _capi.E_INVALID_QUERY
    code = "invalid_query"


BY_STATUS: dict[int, type[Error]] = {
    int(cls.status or 0): cls  # every subclass sets status
    for cls in (
        InvalidHandle, NullArgument, InvalidUTF8, BufferTooSmall, InternalError, Forbidden, Busy,
        EmptyKey, KeyTooLong, NullValue, InvalidJSON, InvalidValue, InvalidTimeRange,
        TxTimeNotIncreasing, UnknownValueTag, NotADatabase, FormatVersion, ReadOnly, MapFull,
        DiskFull, Corrupted, InvalidArgument, StorageError, Closed, ReservedPartition, NotFound,
        InvalidModule, HookRejected, CodeFailed, CodeLimit, CodeUnavailable, Conflict,
        SchemaViolation, InvalidSchema, InvalidQuery,
    )
}

_lib = _capi.lib


def error_for(status: int) -> Error:
    """The exception for `status`, with the calling thread's last error message."""
    message = (_lib.llmdb_last_error() or b"").decode("utf-8", "replace")
    code = (_lib.llmdb_status_name(status) or b"unknown").decode("ascii", "replace")
    cls = BY_STATUS.get(status, Error)
    return cls(message or code, status, code)

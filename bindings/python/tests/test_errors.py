"""The exception classes: one per status, named like the library's status names."""

from __future__ import annotations

import pytest

import llmdb
from llmdb import _capi, _errors

STATUSES = {name: value for name, value in vars(_capi).items() if name.startswith("E_")}


def test_every_status_has_a_class_named_like_the_library() -> None:
    assert set(_errors.BY_STATUS) == set(STATUSES.values())
    for status, cls in _errors.BY_STATUS.items():
        assert issubclass(cls, llmdb.Error) and cls.status == status
        assert getattr(llmdb, cls.__name__) is cls
        assert cls.code == _capi.lib.llmdb_status_name(status).decode(), cls


def test_the_brief_s_names() -> None:
    for name in (
        "KeyTooLong EmptyKey NullValue InvalidJSON InvalidValue InvalidTimeRange TxTimeNotIncreasing "
        "NotADatabase FormatVersion ReadOnly MapFull DiskFull Corrupted InvalidArgument StorageError "
        "Closed ReservedPartition NotFound InvalidModule HookRejected CodeFailed CodeLimit "
        "CodeUnavailable Conflict SchemaViolation InvalidSchema InvalidQuery InvalidHandle InvalidUTF8 "
        "Forbidden Busy InternalError"
    ).split():
        assert issubclass(getattr(llmdb, name), llmdb.Error), name
    assert issubclass(llmdb.InvalidArgument, ValueError)
    assert not issubclass(llmdb.NotFound, KeyError)


def test_an_error_carries_status_code_and_message(db: llmdb.Database) -> None:
    with pytest.raises(llmdb.Error) as e:
        db.put("", 1)
    err = e.value
    assert type(err) is llmdb.EmptyKey
    assert err.status == _capi.E_EMPTY_KEY and err.code == "empty_key"
    assert str(err) == err.message and "empty" in err.message
    assert "EmptyKey" in repr(err)


def test_errors_can_be_raised_by_users() -> None:
    e = llmdb.Conflict("mine")
    assert e.status == _capi.E_CONFLICT and e.code == "conflict" and str(e) == "mine"
    assert llmdb.Error("x").status is None

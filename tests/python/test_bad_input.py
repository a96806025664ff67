"""Bad requests get a 4xx with {"error": {"code", "message"}}, never a 500."""

from __future__ import annotations

import pytest

from conftest import assert_error


def test_malformed_json(http):
    for body in [b"{", b'{"key": "agent:context:x", "content": }', b"not json", b'{"a":1}x', b"\xff\xfe"]:
        r = http.post("/v1/memory/remember", content=body, headers={"Content-Type": "application/json"})
        e = assert_error(r, 400, "invalid_json")
        assert "not valid JSON" in e["message"], e


def test_body_must_be_an_object(http):
    for body in [b"[]", b"1", b'"text"', b"null"]:
        e = assert_error(http.post("/v1/memory/remember", content=body), 400, "invalid_argument")
        assert "object" in e["message"]
    e = assert_error(http.post("/v1/memory/remember", content=b""), 400, "invalid_argument")
    assert "JSON body" in e["message"]


@pytest.mark.parametrize(
    "method,path,body,needle",
    [
        ("POST", "/v1/memory/remember", {"key": 5, "content": "x"}, "'key' must be a string"),
        ("POST", "/v1/memory/remember", {"key": "agent:context:x", "content": "x", "confidence": "high"}, "'confidence' must be a number"),
        ("POST", "/v1/memory/remember", {"key": "agent:context:x", "content": "x", "dependencies": "a"}, "'dependencies' must be an array of strings"),
        ("POST", "/v1/memory/remember", {"memories": {"key": "agent:context:x"}}, "'memories' must be an array"),
        ("POST", "/v1/memory/recall", {"query": ["a"]}, "'query' must be a string"),
        ("POST", "/v1/memory/recall", {"query": "a", "limit": "ten"}, "'limit' must be an integer"),
        ("POST", "/v1/memory/recall", {"query": "a", "limit": 0}, "'limit' must be from 1"),
        ("POST", "/v1/memory/recall", {"query": "a", "include_expired": "yes"}, "'include_expired' must be true or false"),
        ("POST", "/v1/memory/recall", {"query": "a", "valid_at": "yesterday"}, "'valid_at' must be an ISO 8601 time"),
        ("PUT", "/v1/facts", {"key": "k", "value": 1, "partition": -1}, "'partition' must be from 0"),
        ("PUT", "/v1/facts", {"key": "k", "value": 1, "raw": "x"}, "not both"),
        ("POST", "/v1/apply", {"operations": [{"op": "frobnicate", "key": "k"}]}, "operation 0"),
        ("POST", "/v1/query", {"lql": 42}, "'lql' must be a string"),
        ("POST", "/v1/query", {"lql": "SELECT 1", "parameters": "x"}, "'parameters' must be an object"),
    ],
)
def test_wrong_types(http, method, path, body, needle):
    e = assert_error(http.request(method, path, json=body), 400)
    assert needle in e["message"], e


def test_wrong_types_in_query_parameters(http):
    e = assert_error(http.get("/v1/facts", params={"key": "k", "tx": "abc"}), 400, "invalid_argument")
    assert "'tx' must be an integer" in e["message"]
    e = assert_error(http.get("/v1/facts/history", params={"key": "k", "corrections": "maybe"}), 400)
    assert "'corrections' must be true or false" in e["message"]
    e = assert_error(http.get("/v1/facts", params=[("key", "a"), ("key", "b")]), 400)
    assert "repeated" in e["message"]


@pytest.mark.parametrize(
    "method,path,body,field",
    [
        ("POST", "/v1/memory/remember", {"content": "x"}, "key"),
        ("POST", "/v1/memory/remember", {"key": "agent:context:x"}, "content"),
        ("POST", "/v1/memory/recall", {}, "query"),
        ("POST", "/v1/memory/correct", {"key": "agent:context:x"}, "reason"),
        ("POST", "/v1/memory/rollback", {"prefix": "agent:", "reason": "r"}, "tx"),
        ("PUT", "/v1/facts", {"value": 1}, "key"),
        ("PUT", "/v1/facts", {"key": "k"}, "value"),
        ("POST", "/v1/query", {}, "lql"),
        ("GET", "/v1/facts", None, "key"),
        ("GET", "/v1/memory/history", None, "key"),
    ],
)
def test_missing_fields(http, method, path, body, field):
    r = http.request(method, path, json=body) if body is not None else http.request(method, path)
    e = assert_error(r, 400, "invalid_argument")
    assert f"'{field}'" in e["message"], e


def test_unknown_fields(http):
    e = assert_error(http.post("/v1/memory/remember", json={"key": "agent:context:x", "content": 1, "colour": "red"}), 400)
    assert "unknown field 'colour'" in e["message"], e
    e = assert_error(http.post("/v1/memory/recall", json={"query": "x", "lmit": 3}), 400, "invalid_argument")
    assert "'lmit'" in e["message"] and "limit" in e["message"], e
    e = assert_error(http.get("/v1/facts", params={"key": "k", "validat": "now"}), 400, "invalid_argument")
    assert "'validat'" in e["message"]
    e = assert_error(http.post("/v1/memory/remember", json={"memories": [{"key": "agent:context:x", "content": 1, "x": 2}]}), 400)
    assert "memory 0" in e["message"] and "'x'" in e["message"], e
    # a path parameter repeated in the body
    e = assert_error(http.post("/v1/collections/c/documents", json={"collection": "d", "document": {}}), 400)
    assert "'collection'" in e["message"]


def test_unknown_route_is_404_json(http):
    for method, path in [("GET", "/nope"), ("POST", "/v1/nope"), ("GET", "/v1/memory"), ("GET", "/v1/facts/x/y")]:
        assert_error(http.request(method, path), 404)


def test_wrong_method_is_405_json(http):
    # /v1/memory/remember exists for POST only, /health for GET only
    for method, path in [("GET", "/v1/memory/remember"), ("DELETE", "/v1/query"), ("POST", "/health")]:
        assert_error(http.request(method, path), 405, "method_not_allowed")


def test_invalid_lql(http):
    for lql in ["SELEC * FROM t", "SELECT FROM", "SELECT a FROM t WHERE", "INSERT INTO", "SELECT 'unterminated"]:
        e = assert_error(http.post("/v1/query", json={"lql": lql}), 400, "invalid_query")
        assert "line" in e["message"] or "column" in e["message"] or e.get("details"), e


def test_not_found_is_404(http):
    assert_error(http.get("/v1/facts", params={"key": "never-written"}), 404, "not_found")
    assert_error(http.get("/v1/collections/none/documents/none"), 404, "not_found")
    assert_error(http.get("/v1/collections/none/schema"), 404, "not_found")
    assert_error(http.get("/v1/code/none"), 404, "not_found")


def test_conflict_is_409(http):
    r = http.post("/v1/collections/c/documents", json={"id": "a", "document": {"x": 1}})
    assert r.status_code == 200, r.text
    assert_error(http.post("/v1/collections/c/documents", json={"id": "a", "document": {"x": 2}}), 409, "conflict")


def test_schema_violation_is_422(http):
    r = http.put("/v1/collections/s/schema", json={"schema": {"type": "object", "required": ["name"]}})
    assert r.status_code == 200, r.text
    assert_error(http.post("/v1/collections/s/documents", json={"document": {"x": 1}}), 422, "schema_violation")


def test_body_over_the_limit(start_server):
    server = start_server(args=["--max-body-bytes", "1024"])
    with server.client() as c:
        small = {"key": "agent:context:small", "content": "x" * 100}
        assert c.post("/v1/memory/remember", json=small).status_code == 200
        big = {"key": "agent:context:big", "content": "x" * 4000}
        e = assert_error(c.post("/v1/memory/remember", json=big), 413, "too_large")
        assert "1024" in e["message"]
        # the server still serves, and wrote nothing
        assert c.get("/health").status_code == 200
        assert_error(c.get("/v1/facts", params={"key": "agent:context:big"}), 404)
        # MCP over HTTP has the same limit
        r = c.post("/mcp", content=b"{" + b" " * 4000 + b"}",
                   headers={"Content-Type": "application/json", "Accept": "application/json, text/event-stream"})
        assert_error(r, 413, "too_large")

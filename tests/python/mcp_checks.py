"""Checks shared by the MCP tests over stdio and over streamable HTTP: every tool, the
resources, and errors, given an initialized `mcp.ClientSession`."""

from __future__ import annotations

import json
import uuid

TOOLS = {
    "remember": {"required": set(), "has": {"key", "content", "memories", "confidence"}},
    "recall": {"required": {"query"}, "has": {"query", "namespace", "limit", "max_tokens", "tx"}},
    "correct": {"required": {"key", "reason"}, "has": {"key", "reason", "content", "confidence"}},
    "forget": {"required": {"key"}, "has": {"key", "erase", "valid_from"}},
    "history": {"required": {"key"}, "has": {"key", "tx", "limit"}},
    "knowledge_evolution": {"required": {"prefix"}, "has": {"prefix", "tx"}},
    "as_of": {"required": set(), "has": {"tx", "tx_time", "prefix"}},
    "rollback": {"required": {"prefix", "tx", "reason"}, "has": {"prefix", "tx", "reason", "decision"}},
    "query": {"required": {"lql"}, "has": {"lql", "parameters"}},
    "list_namespaces": {"required": set(), "has": {"partition"}},
    "describe_schema": {"required": {"collection"}, "has": {"collection", "version"}},
    "dry_run_migration": {"required": {"collection", "migration"}, "has": {"collection", "migration", "sample"}},
    "vector_search": {"required": {"collection", "vector"}, "has": {"collection", "vector", "k", "filter", "tx"}},
}

# The vector collection both preparations write: {"name", "dimensions", "vectors": [(key, vector, metadata)]}.
VECTORS = {
    "name": "notes",
    "dimensions": 2,
    "vectors": [("a", [1.0, 0.0], {"lang": "en"}), ("b", [0.0, 1.0], {"lang": "fr"})],
}

SCHEMA = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
}

MIGRATION = {
    "schema": {
        "type": "object",
        "required": ["first"],
        "properties": {"first": {"type": "string"}, "last": {"type": "string"}, "age": {"type": "integer"}},
    },
    "steps": [{"split": {"path": "name", "separator": " ", "into": ["first", "last"]}}],
}


def is_error(result) -> bool:
    # mcp 2.x: is_error; mcp 1.x: isError
    return bool(getattr(result, "is_error", getattr(result, "isError", False)))


def text_of(result) -> str:
    assert result.content, result
    assert result.content[0].type == "text", result
    return result.content[0].text


def ok(result) -> dict:
    """A successful tool result's JSON."""
    assert not is_error(result), f"tool failed: {text_of(result)}"
    return json.loads(text_of(result))


def err(result) -> dict:
    """A failed tool result's {"code", "message"}."""
    assert is_error(result), f"expected an error, got: {text_of(result)}"
    body = json.loads(text_of(result))
    e = body["error"]
    assert isinstance(e["code"], str) and e["code"] and isinstance(e["message"], str) and e["message"], body
    return e


def input_schema(tool) -> dict:
    return getattr(tool, "input_schema", None) or getattr(tool, "inputSchema")


async def check_tools_listed(session) -> None:
    listed = (await session.list_tools()).tools
    by_name = {t.name: t for t in listed}
    assert set(by_name) == set(TOOLS), sorted(by_name)
    for name, want in TOOLS.items():
        t = by_name[name]
        assert t.description and len(t.description) > 20, name
        schema = input_schema(t)
        assert schema["type"] == "object", (name, schema)
        props = schema.get("properties", {})
        assert want["has"] <= set(props), (name, sorted(props))
        assert set(schema.get("required", [])) == want["required"], (name, schema.get("required"))


async def exercise_all_tools(session, collection: str, expected_docs: set[str]) -> None:
    """Calls all 13 tools with valid arguments and checks what they return.

    `collection` must have schema version 1 == SCHEMA and hold the documents
    `expected_docs` (ids), each with a two-word `name`; the vector collection VECTORS must
    exist with its vectors."""
    await check_tools_listed(session)
    uid = uuid.uuid4().hex[:8]
    key = f"agent:knowledge:capital-{uid}"

    # remember, one and a batch
    r1 = ok(await session.call_tool(
        "remember",
        {"key": key, "content": {"text": f"the capital of France is Paris {uid}"}, "confidence": 0.6, "source": "test"},
    ))
    assert r1["keys"] == [key] and isinstance(r1["tx"], int)
    tx1 = r1["tx"]
    batch = ok(await session.call_tool("remember", {"memories": [
        {"key": f"agent:decision:use-lmdb-{uid}", "content": f"we store memories in LMDB {uid}"},
        {"key": f"agent:progress:step-{uid}", "content": {"done": 3, "note": f"halfway {uid}"}},
    ]}))
    assert batch["keys"] == [f"agent:decision:use-lmdb-{uid}", f"agent:progress:step-{uid}"]
    assert batch["tx"] > tx1

    # recall finds it (and a namespace filter keeps other kinds out)
    rec = ok(await session.call_tool("recall", {"query": f"capital France {uid}"}))
    keys = [m["key"] for m in rec["memories"]]
    assert key in keys, rec
    assert rec["memories"][keys.index(key)]["content"] == {"text": f"the capital of France is Paris {uid}"}
    rec = ok(await session.call_tool("recall", {"query": uid, "namespace": "agent:decision:"}))
    assert [m["key"] for m in rec["memories"]] == [f"agent:decision:use-lmdb-{uid}"], rec

    # correct, then history has both versions
    fixed = {"text": f"the capital of France is Paris, checked {uid}"}
    c = ok(await session.call_tool("correct", {"key": key, "content": fixed, "confidence": 0.9, "reason": "verified"}))
    tx2 = c["tx"]
    assert tx2 > tx1
    assert c["memory"]["content"] == fixed and c["memory"]["correction_reason"] == "verified"
    hist = ok(await session.call_tool("history", {"key": key}))
    versions = hist["versions"]
    assert len(versions) == 2, hist
    assert versions[0]["content"] == {"text": f"the capital of France is Paris {uid}"} and versions[0]["tx"] == tx1
    assert versions[1]["content"] == fixed and versions[1]["tx"] == tx2
    assert versions[0]["valid_from"] == versions[1]["valid_from"], "a correction keeps the valid time"

    # as_of the first transaction shows the original
    old = ok(await session.call_tool("as_of", {"tx": tx1, "prefix": "agent:knowledge:"}))
    mine = [m for m in old["memories"] if m["key"] == key]
    assert len(mine) == 1 and mine[0]["content"] == {"text": f"the capital of France is Paris {uid}"}, old
    now = ok(await session.call_tool("as_of", {"tx": tx2, "prefix": key}))
    assert [m["content"] for m in now["memories"]] == [fixed], now

    # knowledge_evolution: the confidence change
    evo = ok(await session.call_tool("knowledge_evolution", {"prefix": key}))
    assert len(evo["versions"]) == 2, evo
    assert evo["versions"][0]["confidence_change"] is None
    assert abs(evo["versions"][1]["confidence_change"] - 0.3) < 1e-9, evo

    # rollback to tx1 restores the original, as a new transaction
    rb = ok(await session.call_tool(
        "rollback", {"prefix": key, "tx": tx1, "reason": "the check was wrong", "decision": f"cap-{uid}"}
    ))
    assert rb["restored"] == [key] and rb["tx"] > tx2, rb
    cur = ok(await session.call_tool("as_of", {"tx": rb["tx"], "prefix": key}))
    assert [m["content"] for m in cur["memories"]] == [{"text": f"the capital of France is Paris {uid}"}], cur
    hist = ok(await session.call_tool("history", {"key": key}))
    assert len(hist["versions"]) == 3 and hist["versions"][-1]["tx"] == rb["tx"], hist
    sup = ok(await session.call_tool("history", {"key": f"agent:decision:cap-{uid}:superseded"}))
    assert sup["versions"][0]["content"]["reason"] == "the check was wrong", sup

    # forget: recall no longer finds it, history keeps it
    f = ok(await session.call_tool("forget", {"key": key}))
    assert f["tx"] > rb["tx"]
    rec = ok(await session.call_tool("recall", {"query": f"capital France {uid}"}))
    assert key not in [m["key"] for m in rec["memories"]], rec
    hist = ok(await session.call_tool("history", {"key": key}))
    assert len(hist["versions"]) >= 3

    # list_namespaces
    ns = ok(await session.call_tool("list_namespaces", {}))
    counts = {n["namespace"]: n["count"] for n in ns["namespaces"]}
    assert counts.get("agent:decision", 0) >= 2 and counts.get("agent:progress", 0) >= 1, ns

    # query: LQL write and read, named and positional parameters
    ins = ok(await session.call_tool("query", {
        "lql": f"INSERT INTO {collection} (_id, name, age) VALUES (:id, :name, 52)",
        "parameters": {"id": f"m-{uid}", "name": "Grace Hopper"},
    }))
    assert ins["rows"][0]["affected"] == 1, ins
    sel = ok(await session.call_tool("query", {
        "lql": f"SELECT _id, name, age FROM {collection} WHERE age > $1 ORDER BY _id",
        "parameters": [0],
    }))
    assert sel["columns"] == ["_id", "name", "age"], sel
    ids = {row["_id"] for row in sel["rows"]}
    assert ids == expected_docs | {f"m-{uid}"}, sel
    kv = ok(await session.call_tool("query", {"lql": f"SELECT key FROM kv('agent:progress:step-{uid}')"}))
    assert kv["rows"] == [{"key": f"agent:progress:step-{uid}"}], kv

    # describe_schema and dry_run_migration
    d = ok(await session.call_tool("describe_schema", {"collection": collection}))
    assert d["collection"] == collection and d["version"] == 1 and d["schema"] == SCHEMA, d
    dry = ok(await session.call_tool("dry_run_migration", {"collection": collection, "migration": MIGRATION}))
    n = len(expected_docs) + 1
    assert (dry["from"], dry["to"], dry["examined"], dry["changed"]) == (1, 2, n, n), dry
    assert dry["failures"] == []
    s = {x["id"]: x for x in dry["samples"]}
    assert s[f"m-{uid}"]["before"] == {"name": "Grace Hopper", "age": 52}
    assert s[f"m-{uid}"]["after"] == {"first": "Grace", "last": "Hopper", "age": 52}
    # a dry run writes nothing
    d = ok(await session.call_tool("describe_schema", {"collection": collection}))
    assert d["version"] == 1

    # vector_search: nearest first, filters, no floats in the answer
    near = ok(await session.call_tool("vector_search", {"collection": VECTORS["name"], "vector": [0.9, 0.2], "k": 1}))
    assert [h["key"] for h in near["hits"]] == ["a"] and "vector" not in near["hits"][0], near
    assert near["hits"][0]["metadata"] == {"lang": "en"} and near["truncated"] is False, near
    fr = ok(await session.call_tool(
        "vector_search", {"collection": VECTORS["name"], "vector": [0.9, 0.2], "filter": {"lang": "fr"}}
    ))
    assert [h["key"] for h in fr["hits"]] == ["b"], fr

    # resources
    res = (await session.list_resources()).resources
    uris = {str(r.uri) for r in res}
    assert {"llmdb://namespaces", f"llmdb://schemas/{collection}"} <= uris, uris
    got = await session.read_resource("llmdb://namespaces")
    body = json.loads(got.contents[0].text)
    assert {n["namespace"] for n in body["namespaces"]} >= {"agent:decision", "agent:knowledge"}, body
    got = await session.read_resource(f"llmdb://schemas/{collection}")
    body = json.loads(got.contents[0].text)
    assert body["schema"] == SCHEMA and body["version"] == 1, body


async def check_tool_errors(session) -> None:
    """Invalid calls give isError with a clear message, and the session keeps working."""
    e = err(await session.call_tool("recall", {}))
    assert e["code"] == "invalid_argument" and "'query' is required" in e["message"], e
    e = err(await session.call_tool("remember", {"key": "agent:knowledge:x", "content": "y", "confidence": "high"}))
    assert "'confidence' must be a number" in e["message"], e
    e = err(await session.call_tool("remember", {"key": "agent:knowledge:x", "content": "y", "colour": "red"}))
    assert "unknown field 'colour'" in e["message"], e
    e = err(await session.call_tool("remember", {"key": "not-a-memory-key", "content": "y"}))
    assert "agent:{kind}:{id}" in e["message"], e
    e = err(await session.call_tool("query", {"lql": "SELEC nothing"}))
    assert e["code"] == "invalid_query", e
    e = err(await session.call_tool("describe_schema", {"collection": "no_such_collection"}))
    assert e["code"] == "not_found", e
    e = err(await session.call_tool("vector_search", {"collection": "no_such_vectors", "vector": [1, 0]}))
    assert e["code"] == "not_found" and "no_such_vectors" in e["message"], e
    r = await session.call_tool("no_such_tool", {})
    assert is_error(r) and "unknown tool 'no_such_tool'" in text_of(r), text_of(r)
    # still usable
    ok(await session.call_tool("list_namespaces", {}))


try:  # mcp >= 1.24 (and 2.x): streamable_http_client(url, http_client=...)
    from mcp.client.streamable_http import streamable_http_client as _streamable_http_client
except ImportError:  # older mcp 1.x
    _streamable_http_client = None
    from mcp.client.streamable_http import streamablehttp_client as _streamablehttp_client


def http_transport(url: str, headers: dict[str, str] | None = None):
    """The official streamable HTTP client transport, with optional headers."""
    if _streamable_http_client is None:
        return _streamablehttp_client(url, headers=headers or {})
    try:
        import httpx2 as hx  # what mcp 2.x uses
    except ImportError:
        import httpx as hx
    client = hx.AsyncClient(headers=headers or {}, timeout=hx.Timeout(30, read=120))
    return _streamable_http_client(url, http_client=client)

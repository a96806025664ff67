"""/health, /metrics and /openapi.json."""

from __future__ import annotations

import re

import jsonschema

from conftest import assert_error


def test_health(http):
    r = http.get("/health")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["status"] == "ok" and isinstance(body["tx"], int)
    http.post("/v1/memory/remember", json={"key": "agent:context:h", "content": 1})
    assert http.get("/health").json()["tx"] > body["tx"]


def metric_samples(text: str) -> dict[str, list[tuple[str, float]]]:
    """name -> [(labels, value)] from the Prometheus text format (and checks its syntax)."""
    out: dict[str, list[tuple[str, float]]] = {}
    line_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)(\s+\d+)?$')
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            if line.startswith("# TYPE"):
                assert len(line.split()) == 4, line
            continue
        m = line_re.match(line)
        assert m, f"not a Prometheus sample line: {line!r}"
        out.setdefault(m.group(1), []).append((m.group(2) or "", float(m.group(3))))
    return out


def test_metrics(http):
    for _ in range(3):
        assert http.post("/v1/memory/remember", json={"key": "agent:context:m", "content": 1}).status_code == 200
    assert http.get("/v1/facts", params={"key": "missing"}).status_code == 404
    r = http.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    m = metric_samples(r.text)
    for name in ["llmdb_http_requests_total", "llmdb_map_size_bytes", "llmdb_reader_slots_used", "llmdb_wasm_failures_total"]:
        assert name in m, f"{name} missing from /metrics:\n{r.text[:2000]}"
    reqs = {labels: v for labels, v in m["llmdb_http_requests_total"]}
    remember = [v for l, v in reqs.items() if 'route="/v1/memory/remember"' in l and 'status="200"' in l and 'method="POST"' in l]
    assert remember == [3.0], reqs
    missing = [v for l, v in reqs.items() if 'route="/v1/facts"' in l and 'status="404"' in l]
    assert missing == [1.0], reqs
    assert m["llmdb_map_size_bytes"][0][1] > 0
    assert m["llmdb_reader_slots_used"][0][1] >= 0
    assert m["llmdb_wasm_failures_total"][0][1] == 0
    assert "llmdb_http_request_duration_seconds_bucket" in m


def test_openapi_is_valid_openapi_31(http):
    r = http.get("/openapi.json")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    doc = r.json()
    assert doc["openapi"].startswith("3.1.")
    assert doc["info"]["title"] and doc["info"]["version"]

    # the official OAS 3.1 meta-schema (as bundled by schemathesis)
    from schemathesis.specs.openapi.definitions import OPENAPI_31

    validator = jsonschema.Draft202012Validator(OPENAPI_31)
    problems = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    assert not problems, "\n".join(f"{list(e.path)}: {e.message}" for e in problems[:20])

    # every embedded schema is valid JSON Schema 2020-12, operation ids are unique, and
    # every {param} in a path is declared
    ids = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            ids.append(op["operationId"])
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == set(re.findall(r"\{(\w+)\}", path)), (method, path, declared)
            for p in op.get("parameters", []):
                jsonschema.Draft202012Validator.check_schema(p["schema"])
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if body:
                jsonschema.Draft202012Validator.check_schema(body)
                assert body.get("additionalProperties") is False, (method, path)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    for core in ["/v1/memory/remember", "/v1/memory/recall", "/v1/query", "/v1/facts", "/health", "/metrics"]:
        assert core in doc["paths"], core
    assert "Error" in doc["components"]["schemas"]


def test_openapi_matches_the_server(http):
    """Each documented operation is routed (never the router's 404 for an unknown path)."""
    doc = http.get("/openapi.json").json()
    for path, item in doc["paths"].items():
        concrete = re.sub(r"\{(\w+)\}", "zz", path)
        for method in item:
            r = http.request(method.upper(), concrete, json={} if method in ("post", "put", "patch") else None)
            assert r.status_code < 500, (method, path, r.status_code, r.text)
            if r.status_code == 404:
                assert r.json()["error"]["code"] == "not_found" and "no route" not in r.json()["error"]["message"], (
                    method, path, r.text)


def test_operations_documented_without_security_need_no_key(tmp_path, start_server):
    """With API keys defined, an operation the document marks `security: []` answers
    without a key, and every other one answers 401 without a key."""
    from conftest import create_key

    db = tmp_path / "db"
    create_key(db, "ops", "admin")
    server = start_server(db)
    with server.client() as c:
        doc = c.get("/openapi.json").json()
        for path, item in doc["paths"].items():
            concrete = re.sub(r"\{(\w+)\}", "zz", path)
            for method, op in item.items():
                r = c.request(method.upper(), concrete, json={} if method in ("post", "put", "patch") else None)
                open_op = op.get("security", doc.get("security")) == []
                if open_op:
                    assert r.status_code != 401, f"{method.upper()} {path} is documented without security but needs a key"
                else:
                    assert_error(r, 401, "unauthorized")

#!/usr/bin/env bash
# Integration tests of `llmdb serve` and `llmdb mcp` from Python, against the debug binary:
#   (a) schemathesis generates requests from the live server's /openapi.json and checks that
#       no response is a 5xx and that every status, content type and body matches the document;
#   (b) pytest runs tests/python (MCP over stdio and streamable HTTP, API keys and scopes,
#       bad input, faults, /health, /metrics, /openapi.json).
# The Python packages (tests/python/requirements.txt, pinned) go into a virtualenv at
# .build/venv-server, created or updated when the requirements change.
#
# Environment: LLMDB_BIN (default .build/debug/llmdb), SCHEMATHESIS_MAX_EXAMPLES (default 100,
# cases per operation and phase), SCHEMATHESIS_SEED (default random; the run prints it),
# CHECK_SERVER_ONLY=schemathesis|pytest to run one part. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bin=${LLMDB_BIN:-.build/debug/llmdb}
case $bin in /*) ;; *) bin=$root/$bin ;; esac
venv=.build/venv-server
req=tests/python/requirements.txt
only=${CHECK_SERVER_ONLY:-}

if [ ! -x "$bin" ]; then
    echo "check-server: $bin is missing or not executable; build it first: swift build --product llmdb" >&2
    exit 2
fi

want=$(sha256sum "$req" | cut -d' ' -f1)
stamp=$venv/.requirements.sha256
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    echo "check-server: using the virtualenv $venv ($req unchanged)" >&2
else
    echo "check-server: creating the virtualenv $venv and installing $req from PyPI" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$req"
    echo "$want" >"$stamp"
fi
py=$root/$venv/bin/python
export PYTHONDONTWRITEBYTECODE=1 LLMDB_BIN=$bin

status=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/llmdb-check-server.XXXXXX")
pid=
# Whether a child process still runs (kill -0 also succeeds on a zombie).
alive() {
    local state
    state=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}
cleanup() {
    if [ -n "$pid" ] && alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT

if [ -z "$only" ] || [ "$only" = schemathesis ]; then
    port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    echo "check-server: starting $bin serve --db $tmp/db --port $port" >&2
    "$bin" serve --db "$tmp/db" --port "$port" >"$tmp/serve.log" 2>&1 &
    pid=$!
    if ! "$py" - "$port" "$pid" <<'EOF'; then
import os, sys, time, httpx
port, pid = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    try:
        with open(f"/proc/{pid}/stat") as f:
            if f.read().split()[2] == "Z":
                raise FileNotFoundError
    except FileNotFoundError:
        sys.exit("llmdb serve exited during start-up")
    try:
        if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
            sys.exit(0)
    except httpx.HTTPError:
        pass
    time.sleep(0.1)
sys.exit("llmdb serve did not answer /health within 30 s")
EOF
        echo "check-server: the server did not start; its log:" >&2
        cat "$tmp/serve.log" >&2
        exit 1
    fi
    seed_args=()
    if [ -n "${SCHEMATHESIS_SEED:-}" ]; then seed_args=(--seed "$SCHEMATHESIS_SEED"); fi
    echo "check-server: schemathesis against http://127.0.0.1:$port/openapi.json (max ${SCHEMATHESIS_MAX_EXAMPLES:-100} examples per operation)" >&2
    # Run from the temporary directory: hypothesis and schemathesis keep caches in the cwd.
    if ! (cd "$tmp" && "$root/$venv/bin/schemathesis" run "http://127.0.0.1:$port/openapi.json" \
        --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
        --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-100}" "${seed_args[@]}" \
        --request-timeout 20 --no-color); then
        echo "check-server: schemathesis FAILED" >&2
        status=1
    fi
    if ! alive "$pid"; then
        echo "check-server: FAILED: llmdb serve died during the schemathesis run; its log:" >&2
        tail -50 "$tmp/serve.log" >&2
        status=1
    else
        echo "check-server: stopping the server (SIGTERM)" >&2
        kill -TERM "$pid"
        code=0
        for _ in $(seq 200); do alive "$pid" || break; sleep 0.1; done
        if alive "$pid"; then
            echo "check-server: FAILED: llmdb serve did not exit within 20 s of SIGTERM" >&2
            status=1
        else
            wait "$pid" || code=$?
            if [ "$code" -ne 0 ]; then
                echo "check-server: FAILED: llmdb serve exited with $code after SIGTERM; its log:" >&2
                tail -50 "$tmp/serve.log" >&2
                status=1
            fi
        fi
    fi
    if grep -q ' error ' "$tmp/serve.log"; then
        echo "check-server: errors in the server log:" >&2
        grep ' error ' "$tmp/serve.log" | head -20 >&2
    fi
fi

if [ -z "$only" ] || [ "$only" = pytest ]; then
    echo "check-server: pytest -q tests/python" >&2
    if ! "$py" -m pytest -q -p no:cacheprovider tests/python "$@"; then
        echo "check-server: pytest FAILED" >&2
        status=1
    fi
fi

if [ "$status" -ne 0 ]; then
    echo "check-server: FAILED" >&2
else
    echo "check-server: passed" >&2
fi
exit "$status"

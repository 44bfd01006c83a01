#!/usr/bin/env python3
"""A stand-in Bitbucket API for benchmarks: serves a fixture directory, adding latency.

    python3 scripts/bench_mock_server.py FIXTURES PORT [LATENCY_MS] [PER_TOKEN_RPS]

GET /2.0/repositories/{ws}?page=N               -> FIXTURES/{ws}/repositories/page-000N.json
GET /2.0/repositories/{ws}/{slug}/pipelines?... -> FIXTURES/{ws}/{slug}/pipelines/page-000N.json
Every request waits LATENCY_MS (default 50) first, as a distant API would. GET /_requests returns
how many API requests were served. With PER_TOKEN_RPS, each Authorization header (each
credential) has its own allowance of that many requests a second (a bucket of one second's
worth): beyond it the answer is Bitbucket's 429, text/plain. With MOCK_TOKEN in the environment,
only `Authorization: Bearer $MOCK_TOKEN` is accepted (401 otherwise). Loopback only.
"""

import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

ROOT = Path(sys.argv[1])
PORT = int(sys.argv[2])
LATENCY = (float(sys.argv[3]) if len(sys.argv) > 3 else 50.0) / 1000
PER_TOKEN_RPS = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
TOKEN = os.environ.get("MOCK_TOKEN")
lock = threading.Lock()
served = 0
buckets = {}  # Authorization header -> (tokens, last refill)


def allowed(credential):
    """Takes one request from the credential's bucket; False when it is empty."""
    if PER_TOKEN_RPS <= 0:
        return True
    with lock:
        now = time.monotonic()
        tokens, last = buckets.get(credential, (PER_TOKEN_RPS, now))
        tokens = min(PER_TOKEN_RPS, tokens + (now - last) * PER_TOKEN_RPS)
        if tokens < 1:
            buckets[credential] = (tokens, now)
            return False
        buckets[credential] = (tokens - 1, now)
        return True


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        global served
        url = urlparse(self.path)
        if url.path == "/_requests":
            return self.send(200, json.dumps({"requests": served}).encode())
        time.sleep(LATENCY)
        with lock:
            served += 1
        if "Authorization" not in self.headers:
            return self.send(401, b'{"type": "error", "error": {"message": "no credentials"}}')
        if TOKEN is not None and self.headers["Authorization"] != f"Bearer {TOKEN}":
            return self.send(401, b'{"type": "error", "error": {"message": "Invalid credentials"}}')
        if not allowed(self.headers["Authorization"]):
            body = b"Rate limit for this resource has been exceeded"
            self.send_response(429)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            return self.wfile.write(body)
        parts = [unquote(p) for p in url.path.strip("/").split("/")]
        page = int(parse_qs(url.query).get("page", ["1"])[0])
        if parts[:2] == ["2.0", "repositories"] and len(parts) == 3:
            file = ROOT / parts[2] / "repositories" / f"page-{page:04d}.json"
        elif parts[:2] == ["2.0", "repositories"] and len(parts) == 5 and parts[4] == "pipelines":
            file = ROOT / parts[2] / parts[3] / "pipelines" / f"page-{page:04d}.json"
        else:
            return self.send(404, b'{"type": "error", "error": {"message": "There is no API hosted at this URL"}}')
        if not file.exists():
            return self.send(200, json.dumps({"page": page, "pagelen": 100, "values": []}).encode())
        self.send(200, file.read_bytes())


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()

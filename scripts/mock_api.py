"""scripts/bench_mock_server.py as a context manager, for the scripts that talk to it."""

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def mock_api(fixtures_dir, latency_ms, per_token_rps=None, token=None):
    """The mock serving `fixtures_dir`, up and listening; yields its port. With `token`, it
    accepts only `Authorization: Bearer <token>`."""
    port = free_port()
    extra = [str(per_token_rps)] if per_token_rps else []
    env = {**os.environ, "MOCK_TOKEN": token} if token else None
    server = subprocess.Popen([sys.executable, ROOT / "scripts/bench_mock_server.py", fixtures_dir,
                               str(port), str(latency_ms)] + extra, env=env)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield port
    finally:
        server.kill()

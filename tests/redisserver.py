"""A throwaway ``redis-server`` on a free loopback port, for the Redis state tests."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

REDIS_SERVER = shutil.which("redis-server")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ping(port: int) -> bool:
    """Whether a Redis server answers ``PING`` on ``port`` (raw RESP, no client)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@contextlib.contextmanager
def redis_server(directory: Path, timeout: float = 10.0) -> Iterator[str]:
    """Run a private, non-persistent server; yield its URL, kill it on exit."""
    assert REDIS_SERVER is not None
    port = free_port()
    log = (directory / "redis.log").open("wb")
    process = subprocess.Popen(
        [
            REDIS_SERVER,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
            "--protected-mode",
            "yes",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + timeout
        while not ping(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"redis-server did not start on port {port}:"
                    f" {(directory / 'redis.log').read_text(errors='replace')}"
                )
            time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.kill()
        process.wait(timeout=10)
        log.close()


def private_redis(tmp_path_factory: Any, *modules: str) -> Iterator[str]:
    """A module fixture's body: a private server, or a skip saying what is missing."""
    import pytest

    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    for module in modules:
        pytest.importorskip(
            module, reason=f"{module} is not installed (pip install -e .)"
        )
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url

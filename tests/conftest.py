"""Shared fixtures: the sample-site server, the shared corpus, a clean environment."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("NEWSCRAWL_CORPUS", ROOT.parent / "shared" / "corpus"))
TRUTH = Path(__file__).with_name("sample_site_truth.json")

# Tests never reach the network: a proxy in the environment must not capture them.
for _var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy"):
    os.environ.pop(_var, None)


def corpus_pages(publisher_prefix: str | None = None) -> list[dict]:
    """Pages of ``../shared/corpus/pages.jsonl``; empty when the corpus is absent."""
    pages_file = CORPUS / "pages.jsonl"
    if not pages_file.exists():
        return []
    pages = [json.loads(line) for line in pages_file.read_text("utf-8").splitlines()]
    if publisher_prefix:
        pages = [
            p for p in pages if (p.get("publisher") or "").startswith(publisher_prefix)
        ]
    return pages


def corpus_html(page: dict) -> bytes:
    return gzip.decompress((CORPUS / page["html_path"]).read_bytes())


requires_corpus = pytest.mark.skipif(
    not (CORPUS / "pages.jsonl").exists(),
    reason=f"shared corpus not found at {CORPUS} (it ships beside the repo, not in it)",
)


def collect(agen) -> list:
    """Everything an async-generator callback yields (outside a crawl).

    Run on a thread of its own: the test process's reactor already runs a loop.
    """
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    async def run() -> list:
        return [out async for out in agen]

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()


@pytest.fixture(scope="session")
def sample_truth() -> dict:
    return json.loads(TRUTH.read_text("utf-8"))


@contextlib.contextmanager
def serve(root: Path | None = None):
    """Serve ``root`` (default: the bundled sample site) on 127.0.0.1, free port,
    from a subprocess; yield its base URL."""
    args = ["--root", str(root)] if root else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "newscrawl.sampleserver", "--port", "0", *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:"), url
    try:
        yield url
    finally:
        proc.kill()
        proc.communicate()


@pytest.fixture(scope="session")
def sample_server():
    with serve() as url:
        yield url

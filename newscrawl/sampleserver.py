"""A static HTTP server for the bundled sample site, bound to 127.0.0.1 only.

The offline demo and the end-to-end tests crawl it. Paths map to files the way the
real site's URLs look: ``/a/b`` -> ``a/b.html``, ``/a/`` -> ``a/index.html``; the
query string is ignored (so tracking-parameter duplicates serve the same page).
Run ``python -m newscrawl.sampleserver [--port N] [--root DIR]``: the first line
printed is the base URL.
"""

from __future__ import annotations

import argparse
import threading
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

SAMPLE_SITE = Path(__file__).with_name("sample_site")
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".xml": "application/xml",
    ".gz": "application/gzip",
}


class SampleSiteHandler(BaseHTTPRequestHandler):
    """Serves files under ``root``; nothing outside it, 404 for anything missing."""

    server_version = "newscrawl-sample/1"

    def __init__(self, *args: object, root: Path, **kwargs: object) -> None:
        self.root = root.resolve()
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def _resolve(self) -> Path | None:
        path = unquote(urlsplit(self.path).path)
        if ".." in path.split("/"):
            return None
        rel = path.strip("/")
        candidates = (
            [self.root / "index.html"]
            if not rel
            else [
                self.root / rel,
                self.root / f"{rel}.html",
                self.root / rel / "index.html",
            ]
        )
        for candidate in candidates:
            if candidate.is_file() and candidate.resolve().is_relative_to(self.root):
                return candidate
        return None

    def do_GET(self) -> None:
        file = self._resolve()
        if file is None:
            body = b"<html><body><h1>404 Not Found</h1></body></html>"
            self.send_response(404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
        else:
            body = file.read_bytes()
            self.send_response(200)
            self.send_header(
                "Content-Type", _TYPES.get(file.suffix, "text/html; charset=utf-8")
            )
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet: the crawler logs every request already."""


def make_server(root: Path = SAMPLE_SITE, port: int = 0) -> ThreadingHTTPServer:
    handler = partial(SampleSiteHandler, root=root)
    return ThreadingHTTPServer(("127.0.0.1", port), handler)


def base_url(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host!s}:{port}"


def serve_in_thread(root: Path = SAMPLE_SITE) -> ThreadingHTTPServer:
    """Start a server on a free port in a daemon thread; call ``shutdown()`` to stop."""
    server = make_server(root)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--root", type=Path, default=SAMPLE_SITE)
    args = parser.parse_args()
    server = make_server(args.root, args.port)
    print(base_url(server), flush=True)  # noqa: T201 - the URL is the interface
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()

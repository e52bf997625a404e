"""A misbehaving HTTP server for the hardening tests: every fault a crawler meets.

It listens on 127.0.0.1 (port 0) in a thread of the test process and also works
as an HTTP proxy, so one server can play many hosts (``http://good.test/...``).
What it does is chosen by the URL: article-shaped paths
``/2026/12/01/<fault>-story-<n>`` answer with the fault named ``<fault>`` (see
``FAULTS``), ``/index/<fault>?n=N`` lists N such links. Every request is logged
with its host, path, arrival time and the concurrency per host at that moment.
"""

from __future__ import annotations

import gzip
import json
import socket
import struct
import threading
import time
import zlib
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

#: How long "silent" faults hold a connection open (tests use shorter timeouts).
HOLD_SECONDS = 20.0
BOMB_BYTES = 256 * 1024 * 1024
DAY = "2026/12/01"


def article_path(fault: str, n: int | str = 1) -> str:
    return f"/{DAY}/{fault}-story-{n}"


def article_html(
    title: str,
    paragraphs: int = 6,
    *,
    extra_head: str = "",
    body_prefix: str = "",
    canonical: str | None = None,
) -> str:
    text = "".join(
        f"<p>Paragraph {i} of the report on {title}: the council met on Tuesday and"
        f" agreed a plan that residents had asked for since the spring floods.</p>"
        for i in range(paragraphs)
    )
    link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{title}</title>{link}"
        "<meta property='og:type' content='article'>"
        f"<meta property='og:title' content='{title}'>"
        "<meta property='article:published_time' content='2026-12-01T08:00:00+01:00'>"
        f"{extra_head}</head><body>{body_prefix}<article><h1>{title}</h1>"
        "<p class='byline'>By Ana Example</p>"
        f"<time datetime='2026-12-01T08:00:00+01:00'>1 Dec 2026</time>{text}"
        "</article></body></html>"
    )


@cache
def bomb(kind: str) -> bytes:
    """BOMB_BYTES of zeros compressed with ``kind`` (cached: built once per run)."""
    zeros = bytes(1024 * 1024)
    if kind == "gzip":
        buf = zlib.compressobj(9, zlib.DEFLATED, 31)
    elif kind == "deflate":
        buf = zlib.compressobj(9, zlib.DEFLATED, 15)
    elif kind == "br":
        import brotli

        brotli_c = brotli.Compressor(quality=5)
        out = b"".join(brotli_c.process(zeros) for _ in range(BOMB_BYTES // len(zeros)))
        return out + brotli_c.finish()
    elif kind == "zstd":
        from backports import zstd

        zstd_c = zstd.ZstdCompressor()
        out = b"".join(zstd_c.compress(zeros) for _ in range(BOMB_BYTES // len(zeros)))
        return out + zstd_c.flush()
    else:
        raise ValueError(kind)
    out = b"".join(buf.compress(zeros) for _ in range(BOMB_BYTES // len(zeros)))
    return out + buf.flush()


@dataclass
class Log:
    """What the server saw: requests, and the concurrency per host."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    active: dict[str, int] = field(default_factory=dict)
    max_active: dict[str, int] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def enter(self, host: str, path: str, headers: dict[str, str]) -> int:
        with self.lock:
            self.active[host] = self.active.get(host, 0) + 1
            self.max_active[host] = max(self.max_active.get(host, 0), self.active[host])
            key = f"{host}{path}"
            self.hits[key] = self.hits.get(key, 0) + 1
            self.requests.append(
                {"host": host, "path": path, "at": time.monotonic(), "headers": headers}
            )
            return self.hits[key]

    def leave(self, host: str) -> None:
        with self.lock:
            self.active[host] -= 1

    def times(self, host: str | None = None, prefix: str = "") -> list[float]:
        with self.lock:
            return [
                r["at"]
                for r in self.requests
                if (host is None or r["host"] == host) and r["path"].startswith(prefix)
            ]

    def paths(self, host: str | None = None) -> list[str]:
        with self.lock:
            return [r["path"] for r in self.requests if host in (None, r["host"])]


class Handler(BaseHTTPRequestHandler):
    server: FaultServer
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # -- plumbing --------------------------------------------------------------

    def send(
        self,
        status: int,
        body: bytes = b"",
        ctype: str | None = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
        length: int | None = None,
    ) -> None:
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def raw(self, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()

    def hold(self) -> None:
        """Keep the connection open, sending nothing, until the client gives up."""
        deadline = time.monotonic() + self.server.hold_seconds
        self.connection.settimeout(0.2)
        while time.monotonic() < deadline:
            try:
                if self.connection.recv(1) == b"":
                    return  # the client closed the connection
            except TimeoutError:
                continue
            except OSError:
                return

    def reset(self) -> None:
        self.connection.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
        )
        self.connection.close()

    # -- routing ---------------------------------------------------------------

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        host = parts.hostname if parts.scheme else "127.0.0.1"
        host = host or "127.0.0.1"
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        hit = self.server.log.enter(host, path, dict(self.headers.items()))
        try:
            self.route(host, parts.path, parse_qs(parts.query), hit)
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            self.server.log.leave(host)

    def route(
        self, host: str, path: str, query: dict[str, list[str]], hit: int
    ) -> None:
        if path == "/robots.txt":
            robots = self.server.robots.get(host, self.server.robots.get("*", ""))
            self.send(200, robots.encode(), "text/plain")
            return
        if path.startswith("/index/"):
            fault = path.split("/")[2]
            n = int(query.get("n", ["5"])[0])
            links = "".join(
                f'<li><a href="{article_path(fault, i)}">{fault} {i}</a></li>'
                for i in range(n)
            )
            self.send(200, f"<html><body><ul>{links}</ul></body></html>".encode())
            return
        if path.startswith("/calendar/"):
            self.calendar(path)
            return
        if "/loop-story-" in path:
            self.f_loop(path, hit)
            return
        # AMP variants (/amp, ?amp=1) are served as the article itself.
        path = path.removesuffix("/amp")
        if path.startswith(f"/{DAY}/") and "-story-" in path:
            fault = path.rsplit("/", maxsplit=1)[-1].rsplit("-story-", 1)[0]
            handler = getattr(self, "f_" + fault.replace("-", "_"), None)
            if handler is not None:
                handler(path, hit)
                return
        self.send(404, b"<html><body>not found</body></html>")

    def article(self, path: str, **kwargs: Any) -> bytes:
        return article_html(f"Story at {path}", **kwargs).encode()

    # -- faults: one method each, named f_<fault> --------------------------------

    def f_ok(self, path: str, hit: int) -> None:
        self.send(200, self.article(path))

    def f_slow(self, path: str, hit: int) -> None:
        """Answers after ``slow_seconds``: a slow but healthy server."""
        time.sleep(self.server.slow_seconds)
        self.send(200, self.article(path))

    def f_silent(self, path: str, hit: int) -> None:
        if self.server.healed:
            self.f_ok(path, hit)
        else:
            self.hold()

    def f_headers_silence(self, path: str, hit: int) -> None:
        self.raw(b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n")
        self.raw(b"Content-Length: 5000\r\n\r\n<html>")
        self.hold()

    def f_trickle(self, path: str, hit: int) -> None:
        body = self.article(path, paragraphs=200)
        self.raw(
            b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
        )
        deadline = time.monotonic() + self.server.hold_seconds
        for i in range(0, len(body), 20):
            if time.monotonic() > deadline:
                return
            self.raw(body[i : i + 20])
            time.sleep(0.1)

    def f_short_cl(self, path: str, hit: int) -> None:
        body = self.article(path)
        self.raw(
            b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n"
            + f"Content-Length: {len(body) * 2}\r\n\r\n".encode()
            + body
        )

    def f_chunk_cut(self, path: str, hit: int) -> None:
        body = self.article(path)
        self.raw(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            + f"{len(body):x}\r\n".encode()
            + body
            + b"\r\n"
        )

    def f_reset(self, path: str, hit: int) -> None:
        self.reset()

    def f_garbage_status(self, path: str, hit: int) -> None:
        self.raw(b"HTTP/1.1 OK-ish\x00\xff\r\nwhat: \r\n\r\n<html>")

    def f_garbage_headers(self, path: str, hit: int) -> None:
        self.raw(
            b"HTTP/1.1 200 OK\r\nContent-Length: lots\r\n\x01\x02 no colon\r\n\r\n<p>"
        )

    def _status(self, code: int) -> None:
        self.send(code, f"<html><body>status {code}</body></html>".encode())

    def f_status_404(self, path: str, hit: int) -> None:
        self._status(404)

    def f_status_410(self, path: str, hit: int) -> None:
        self._status(410)

    def f_status_500(self, path: str, hit: int) -> None:
        self._status(500)

    def f_status_502(self, path: str, hit: int) -> None:
        self._status(502)

    def f_status_503(self, path: str, hit: int) -> None:
        self._status(503)

    def f_flaky(self, path: str, hit: int) -> None:
        """503 twice, then the article: retried with growing delays."""
        if hit <= 2:
            self._status(503)
        else:
            self.f_ok(path, hit)

    def f_ratelimit(self, path: str, hit: int) -> None:
        """429 with Retry-After on the first request, then the article."""
        if hit == 1:
            self.send(
                429,
                b"slow down",
                headers={"Retry-After": str(self.server.retry_after)},
            )
        else:
            self.f_ok(path, hit)

    def f_redirect_loop(self, path: str, hit: int) -> None:
        self.send(302, b"", headers={"Location": path})

    def f_redirect_pingpong(self, path: str, hit: int) -> None:
        other = path + "-b" if not path.endswith("-b") else path[:-2]
        self.send(302, b"", headers={"Location": other})

    def f_meta_refresh_loop(self, path: str, hit: int) -> None:
        self.send(
            200,
            f'<html><head><meta http-equiv="refresh" content="0;url={path}">'
            "</head><body>moved</body></html>".encode(),
        )

    def f_redirect_ok(self, path: str, hit: int) -> None:
        target = path.replace("redirect-ok-story-", "ok-story-r")
        self.send(301, b"", headers={"Location": target})

    def f_redirect_offsite(self, path: str, hit: int) -> None:
        self.send(
            302, b"", headers={"Location": "http://elsewhere.test" + article_path("ok")}
        )

    def f_redirect_private(self, path: str, hit: int) -> None:
        port = self.server.server_address[1]
        self.send(
            302,
            b"",
            headers={"Location": f"http://127.0.0.1:{port}{article_path('ok', 9)}"},
        )

    def f_empty(self, path: str, hit: int) -> None:
        self.send(200, b"")

    def f_pdf(self, path: str, hit: int) -> None:
        self.send(200, b"%PDF-1.7\n" + bytes(200_000), "application/pdf")

    def f_image(self, path: str, hit: int) -> None:
        self.send(200, b"\xff\xd8\xff\xe0" + bytes(100_000), "image/jpeg")

    def f_no_ctype(self, path: str, hit: int) -> None:
        self.send(200, self.article(path), None)

    def f_no_ctype_pdf(self, path: str, hit: int) -> None:
        self.send(200, b"%PDF-1.7\n" + bytes(1000), None)

    def _bomb(self, kind: str, with_length: bool) -> None:
        data = bomb(kind)
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Encoding", kind)
        if with_length:
            self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        for i in range(0, len(data), 65536):
            self.wfile.write(data[i : i + 65536])

    def f_bomb_gzip(self, path: str, hit: int) -> None:
        self._bomb("gzip", True)

    def f_bomb_gzip_nocl(self, path: str, hit: int) -> None:
        self._bomb("gzip", False)

    def f_bomb_deflate(self, path: str, hit: int) -> None:
        self._bomb("deflate", True)

    def f_bomb_br(self, path: str, hit: int) -> None:
        self._bomb("br", True)

    def f_bomb_zstd(self, path: str, hit: int) -> None:
        self._bomb("zstd", False)

    def _huge(self, with_length: bool) -> None:
        size = 60 * 1024 * 1024
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        if with_length:
            self.send_header("Content-Length", str(size))
        self.send_header("Connection", "close")
        self.end_headers()
        chunk = b"<p>" + b"x" * 65530 + b"</p>"
        for _ in range(size // len(chunk)):
            self.wfile.write(chunk)

    def f_huge(self, path: str, hit: int) -> None:
        self._huge(True)

    def f_huge_nocl(self, path: str, hit: int) -> None:
        self._huge(False)

    def f_wrong_encoding(self, path: str, hit: int) -> None:
        self.send(200, self.article(path), headers={"Content-Encoding": "gzip"})

    def f_gzip(self, path: str, hit: int) -> None:
        self.send(
            200, gzip.compress(self.article(path)), headers={"Content-Encoding": "gzip"}
        )

    def f_bad_utf8(self, path: str, hit: int) -> None:
        page = article_html("Caf\u00e9 cr\u00e8me returns to the high street")
        body = page.encode("utf-8").replace(b"Paragraph 2", b"Paragraph \xff\xfe 2")
        self.send(200, body)

    def f_cp1252_lying(self, path: str, hit: int) -> None:
        """cp1252 bytes served as UTF-8."""
        page = article_html(
            "L\u2019\u00e9t\u00e9 \u00e0 Montr\u00e9al: \u201cd\u00e9j\u00e0 vu\u201d"
        )
        body = page.replace("charset='utf-8'", "charset='utf-8'").encode("cp1252")
        self.send(200, body, "text/html; charset=utf-8")

    def f_win1256(self, path: str, hit: int) -> None:
        page = article_html(
            "\u0627\u0644\u0645\u062c\u0644\u0633 \u064a\u0648\u0627\u0641\u0642 \u0639\u0644\u0649 \u0627\u0644\u062e\u0637\u0629"
        )
        body = page.replace("<meta charset='utf-8'>", "").encode("windows-1256")
        self.send(200, body, "text/html")

    def f_shift_jis(self, path: str, hit: int) -> None:
        page = article_html(
            "\u8b70\u4f1a\u304c\u8a08\u753b\u3092\u627f\u8a8d\u3057\u305f"
        )
        body = page.replace("charset='utf-8'", "charset='shift_jis'").encode(
            "shift_jis"
        )
        self.send(200, body, "text/html")

    def f_tagsoup(self, path: str, hit: int) -> None:
        page = article_html("Tag soup survives the parser").replace("</p>", "")
        page = page.replace("<article>", "<article><div><span><b>").replace(
            "</article>", "</i></td></article></table>"
        )
        self.send(200, page.encode())

    def f_deep(self, path: str, hit: int) -> None:
        depth = 5000
        page = article_html(
            "Nested five thousand deep",
            body_prefix="<div>" * depth,
        ).replace("</body>", "</div>" * depth + "</body>")
        self.send(200, page.encode())

    def f_many_links(self, path: str, hit: int) -> None:
        links = "".join(
            f'<a href="/{DAY}/ok-story-link{i}">link {i}</a> ' for i in range(50_000)
        )
        self.send(200, self.article(path, body_prefix=f"<nav>{links}</nav>"))

    def f_utm(self, path: str, hit: int) -> None:
        """An article that links to itself with tracking parameters, AMP and mobile."""
        canonical = f"http://{self.headers.get('Host', '')}{path}"
        links = (
            f'<a href="{path}?utm_source=x&utm_medium=y">same</a>'
            f'<a href="{path}/amp">amp</a>'
            f'<a href="{path}?amp=1">amp2</a>'
        )
        amp = f'<link rel="amphtml" href="{path}/amp">'
        self.send(
            200,
            self.article(path, canonical=canonical, body_prefix=links, extra_head=amp),
        )

    def f_canonical(self, path: str, hit: int) -> None:
        """A copy of another article whose canonical link points to it."""
        target = f"http://{self.headers.get('Host', '')}{article_path('ok', 1)}"
        self.send(200, self.article(article_path("ok", 1), canonical=target))

    def f_loop(self, path: str, hit: int) -> None:
        """A relative link that makes an endless path: ``more-on-this-story/``, twice..."""
        self.send(
            200,
            self.article(path, body_prefix='<a href="more-on-this-story/">more</a>'),
        )

    def f_sortloop(self, path: str, hit: int) -> None:
        """Links to itself under ever new ``?sort=N`` values (a query trap)."""
        n = int(parse_qs(urlsplit(self.path).query).get("sort", ["0"])[0]) + 1
        links = "".join(
            f'<a href="?sort={n + i}&amp;view=list">v{i}</a>' for i in range(3)
        )
        self.send(200, self.article(path, body_prefix=links))

    # /calendar/YYYY/MM/DD links to the next and previous day, forever.
    def calendar(self, path: str) -> None:
        try:
            y, m, d = (int(x) for x in path.split("/")[2:5])
        except ValueError:
            self._status(404)
            return
        import datetime as dt

        day = dt.date(y, m, d)
        nxt, prev = day + dt.timedelta(days=1), day - dt.timedelta(days=1)
        links = "".join(
            f'<a href="/calendar/{x:%Y/%m/%d}">{x}</a> ' for x in (nxt, prev)
        )
        self.send(200, f"<html><body><h1>{day}</h1>{links}</body></html>".encode())


class FaultServer(ThreadingHTTPServer):
    """The server; ``url`` is its base, ``log`` what it saw."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.log = Log()
        self.robots: dict[str, str] = {"*": "User-agent: *\nDisallow: /private/\n"}
        self.hold_seconds = HOLD_SECONDS
        self.slow_seconds = 0.5
        self.retry_after = 2
        #: When set, the "silent" fault answers normally (a server back to health).
        self.healed = False
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def proxy(self) -> str:
        return self.url

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


if __name__ == "__main__":
    with FaultServer() as server:
        print(server.url, flush=True)
        print(json.dumps(sorted(m[2:] for m in dir(Handler) if m.startswith("f_"))))
        server.thread.join()

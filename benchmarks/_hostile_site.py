"""The local sites of ``benchmarks/hostile.py``, served from a process of their own."""

# A generated news site of --pages articles (tests/sitegen.py) and the fault server
# (tests/faultserver.py, its bombs built before it answers), both on 127.0.0.1 with
# ports chosen by the system. Prints one JSON line {"site": URL, "faults": URL} once
# both answer, then serves until its stdin is closed.
#
# Why a process of its own: serving 50,000-link pages and bombs grows a process's
# memory, and on Linux a child's ru_maxrss starts at its parent's peak RSS, so the
# benchmark, which spawns the measured crawls, must stay small.

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newscrawl.sampleserver import base_url, serve_in_thread  # noqa: E402
from tests.faultserver import FaultServer, bomb  # noqa: E402
from tests.sitegen import build_site  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    args = parser.parse_args()
    for kind in ("gzip", "deflate", "br", "zstd"):
        bomb(kind)  # built before serving: building one outlasts a crawl's timeout
    with tempfile.TemporaryDirectory(prefix="newscrawl-hostile-site-") as tmp:
        site = Path(tmp) / "site"
        build_site(site, args.pages)
        server = serve_in_thread(site)
        try:
            with FaultServer() as faults:
                urls = {"site": base_url(server), "faults": faults.url}
                print(json.dumps(urls), flush=True)
                sys.stdin.read()  # until the benchmark closes it (or exits)
        finally:
            server.shutdown()
            server.server_close()


if __name__ == "__main__":
    main()

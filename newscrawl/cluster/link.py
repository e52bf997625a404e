"""One worker's connection to the cluster's Redis: its name, Lua scripts and batch.

The scripts are the ``.lua`` files of ``newscrawl/cluster/scripts`` (shipped as
package data), each run after ``lib.lua``, the functions they share.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError

if TYPE_CHECKING:
    import redis
    from scrapy.statscollectors import StatsCollector

#: The scripts a worker runs (``scripts/<name>.lua``).
SCRIPTS = ("join", "pop", "tick", "requeue", "leave", "claim", "acquire", "enqueue")
#: Scripts that use nothing of ``lib.lua`` and run without it.
STANDALONE = frozenset({"enqueue"})


@functools.cache
def script(name: str) -> str:
    """The Lua source of the script ``name``, as Redis runs it."""
    folder = resources.files(__package__ or "newscrawl.cluster") / "scripts"
    source = (folder / f"{name}.lua").read_text(encoding="utf-8")
    if name in STANDALONE:
        return source
    return (folder / "lib.lua").read_text(encoding="utf-8") + source


class Link:
    """A worker's Redis client, its scripts, and what rides on its next call.

    Acknowledgements and lease releases are not sent at once: they ride on the
    worker's next script call that settles them (a pop, a lease, a poll), one
    round trip fewer each per page.
    """

    def __init__(
        self, server: redis.Redis, worker: str, stats: StatsCollector | None = None
    ) -> None:
        self.server = server
        #: The worker's name in the cluster: ``host:pid:random``.
        self.worker = worker
        self.stats = stats
        self.acks: list[str] = []
        self.releases: list[str] = []
        self.scripts = {name: server.register_script(script(name)) for name in SCRIPTS}

    def count(self, key: str, value: int = 1) -> None:
        """Add ``value`` to the stat ``newscrawl/cluster/<key>``."""
        if self.stats and value:
            self.stats.inc_value(f"newscrawl/cluster/{key}", value)

    def ack_later(self, ack: str) -> None:
        """Acknowledge the request ``ack`` with the next settling call."""
        self.acks.append(ack)

    def release_later(self, leases: str, token: str) -> None:
        """Remove ``token`` from the lease set ``leases`` with the next call."""
        self.releases.append(f"{leases}\t{token}\n")

    def settle(self) -> list[str]:
        """The batched acknowledgements and releases, as the scripts take them.

        Taken out of the batch: a caller whose call fails puts them back
        (:meth:`unsettle`); if the worker dies first, its unacknowledged
        requests are delivered again, which the claims make harmless.
        """
        batch = [",".join(self.acks), "".join(self.releases)]
        self.acks, self.releases = [], []
        return batch

    def unsettle(self, batch: list[str]) -> None:
        acks, releases = batch
        self.acks += [a for a in acks.split(",") if a]
        self.releases += [f"{r}\n" for r in releases.split("\n") if r]

    def call(self, script: str, keys: list[str], args: list[Any]) -> Any:
        """Run ``script`` with the batch appended to its arguments."""
        batch = self.settle()
        try:
            return self.scripts[script](keys=keys, args=[*args, *batch])
        except RedisError:
            self.unsettle(batch)
            raise

    def run(self, script: str, keys: list[str], args: list[Any]) -> Any:
        """Run ``script`` as it is (the batch waits for the next settling call)."""
        return self.scripts[script](keys=keys, args=args)

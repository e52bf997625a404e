"""The Redis key names of a spider's cluster, and Redis replies as text."""

from __future__ import annotations


def text(value: bytes | str) -> str:
    """A Redis reply (bytes) or a name (str) as text."""
    return value.decode() if isinstance(value, bytes) else value


class Keys:
    """The Redis keys of one spider's cluster.

    Besides scrapy-redis's ``<spider>:requests`` and ``<spider>:dupefilter``
    (settings ``SCHEDULER_QUEUE_KEY`` and ``SCHEDULER_DUPEFILTER_KEY``), they are
    under ``<spider>:cluster:``.
    """

    def __init__(self, spider_name: str) -> None:
        self.spider = spider_name
        self.prefix = f"{spider_name}:cluster"
        p = self.prefix
        self.workers = f"{p}:workers"
        self.busy = f"{p}:busy"
        self.seq = f"{p}:seq"
        self.claims = f"{p}:claims"
        self.hashes = f"{p}:hashes"
        self.totals = f"{p}:totals"
        self.dead = f"{p}:dead"
        self.seeds = f"{p}:seeds"
        self.sites = f"{p}:sites"
        self.sites_version = f"{p}:sites:version"

    def processing(self, worker: str) -> str:
        return f"{self.prefix}:processing:{worker}"

    def host(self, host: str) -> tuple[str, str]:
        """The lease set and the next-start key of a host."""
        return f"{self.prefix}:leases:{host}", f"{self.prefix}:next:{host}"

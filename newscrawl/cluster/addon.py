"""The addon: ``NEWSCRAWL_CLUSTER=redis://...`` turns a crawl into a cluster worker."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.utils.misc import load_object

from newscrawl import defaults
from newscrawl.cluster.scheduler import DUPEFILTER
from newscrawl.download import AbortableHTTPDownloadHandler

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

SCHEDULER = "newscrawl.cluster.Scheduler"
EXTENSION = "newscrawl.cluster.ClusterIdle"
PIPELINE = "newscrawl.cluster.ClaimPipeline"
HANDLER = "newscrawl.cluster.ClusterDownloadHandler"
#: After the usual extensions: it only decides when an idle worker may close.
EXTENSION_ORDER = 600
#: The last pipeline: an article is claimed only once nothing else can drop it.
PIPELINE_ORDER = 900


class Cluster:
    """Addon: ``NEWSCRAWL_CLUSTER=redis://...`` turns a crawl into a cluster worker.

    It installs the cluster's scheduler (scrapy-redis's, made reliable), the
    Redis dupefilter, :class:`~newscrawl.cluster.idle.ClusterIdle`, the
    :class:`~newscrawl.cluster.claims.ClaimPipeline`, and, in place of newscrawl's
    HTTP download handler, the one that takes the host's lease around each
    download. Without ``NEWSCRAWL_CLUSTER`` it does nothing.
    """

    def update_settings(self, settings: BaseSettings) -> None:
        url = defaults.get(settings, "NEWSCRAWL_CLUSTER")
        if not url:
            return
        settings.set("SCHEDULER", SCHEDULER, priority="addon")
        settings.set("DUPEFILTER_CLASS", DUPEFILTER, priority="addon")
        settings.set("REDIS_URL", url, priority="addon")
        settings["EXTENSIONS"][EXTENSION] = EXTENSION_ORDER
        settings["ITEM_PIPELINES"][PIPELINE] = PIPELINE_ORDER
        # Where the crawl downloads with newscrawl's handler (the project's
        # setting), the cluster's subclass takes its place, at the same priority.
        handlers = settings["DOWNLOAD_HANDLERS"]
        for scheme in ("http", "https"):
            handler = handlers.get(scheme)
            if handler and load_object(handler) is AbortableHTTPDownloadHandler:
                priority = handlers.getpriority(scheme) or "project"
                handlers.set(scheme, HANDLER, priority=priority)
        # One worker per core: a worker's extraction thread would take the core
        # of another worker (see newscrawl/extract_thread.py); -s can still turn it on.
        # At the project's priority: the project's settings hold every
        # NEWSCRAWL_* default (newscrawl.defaults), which "addon" would not beat.
        settings.set("NEWSCRAWL_EXTRACT_THREAD", False, priority="project")

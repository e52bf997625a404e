"""The follow policy and the plan: what a crawl follows, from which arguments."""

from __future__ import annotations

import pytest
from scrapy import Request
from scrapy.utils.test import get_crawler

from newscrawl.discovery import Entry
from newscrawl.follow import HOPS, FollowPolicy, FollowRules, Links, site_of
from newscrawl.params import (
    ArgumentError,
    EuronewsParams,
    NewsParams,
    plan,
    replay_settings,
)

EN = "https://www.euronews.com"


def policy(**rules) -> FollowPolicy:
    return FollowPolicy(FollowRules(**rules), get_crawler())


def counts(policy: FollowPolicy) -> dict[str, int]:
    assert policy.crawler is not None
    stats = policy.crawler.stats.get_stats()
    return {
        k.removeprefix("newscrawl/links/"): v
        for k, v in stats.items()
        if k.startswith("newscrawl/links/")
    }


def links(source: str, *urls: str, base: str = "https://news.example/") -> Links:
    return Links(source, base, Request, urls=urls)


# -- the plan: validated arguments -> what the spider does -------------------------


def test_both_hop_arguments_become_max_hops_with_their_own_defaults_and_ranges():
    assert plan(EuronewsParams.parse({})).follow.max_hops == 2
    assert plan(NewsParams.parse({"url": "https://a.example/"})).follow.max_hops == 1
    assert plan(EuronewsParams.parse({"related_depth": "20"})).follow.max_hops == 20
    news = NewsParams.parse({"url": "https://a.example/", "depth": "10"})
    assert plan(news).follow.max_hops == 10
    with pytest.raises(ArgumentError, match=r"'related_depth': 21 is outside 0\.\.20"):
        EuronewsParams.parse({"related_depth": "21"})
    with pytest.raises(ArgumentError, match=r"'depth': 11 is outside 0\.\.10"):
        NewsParams.parse({"url": "https://a.example/", "depth": "11"})


def test_help_states_each_hop_argument_default_and_range():
    assert EuronewsParams.HELP["related_depth"] == (
        '"You might also like" hops from a start article, 0..20 (default: 2)'
    )
    assert NewsParams.HELP["depth"] == (
        "link hops from a start point, 0..10: 1 = the articles a page, feed or"
        " sitemap lists (default: 1)"
    )


def test_euronews_start_points_come_from_the_site_module():
    front = plan(EuronewsParams.parse({"editions": "en,gr"}))
    assert front.starts == (("url", f"{EN}/"), ("url", "https://gr.euronews.com/"))
    backfill = plan(EuronewsParams.parse({"editions": "fr", "discover": "sitemaps"}))
    assert backfill.starts == (
        ("sitemap", "https://fr.euronews.com/sitemaps/fr/articles.xml"),
    )
    given = plan(EuronewsParams.parse({"url": "http://127.0.0.1:8000/fr/"}))
    assert given.starts == (("url", "http://127.0.0.1:8000/fr/"),)
    # Its scope: the site's domain, and the hosts of explicit URLs as they are.
    assert given.follow.sites == {"euronews.com"}
    assert given.follow.hosts == {"127.0.0.1"}
    assert given.follow.article_site == given.site == "euronews"


def test_news_start_points_feeds_then_sitemaps_then_pages_on_their_sites():
    planned = plan(
        NewsParams.parse(
            {
                "url": "https://www.example.co.uk/world/",
                "feed": "https://feeds.example.co.uk/rss",
                "sitemap": "https://other.example/sitemap.xml",
                "since": "2026-03-01",
            }
        )
    )
    assert [kind for kind, _ in planned.starts] == ["feed", "sitemap", "url"]
    assert planned.follow == FollowRules(
        max_hops=1,
        sites=frozenset({"example.co.uk", "other.example"}),
        since=("2026-03-01"),
    )
    assert planned.settings == {}


def test_replay_implies_offline_settings(tmp_path):
    params = NewsParams.parse({"url": "https://a.example/", "replay": str(tmp_path)})
    settings = plan(params).settings
    assert settings == replay_settings((str(tmp_path),))
    assert settings["DOWNLOAD_DELAY"] == 0
    assert settings["AUTOTHROTTLE_ENABLED"] is False
    assert settings["NEWSCRAWL_REPLAY"] == [str(tmp_path)]


def test_a_cluster_worker_needs_no_seeds_of_its_own():
    with pytest.raises(ArgumentError, match="'url': give at least one"):
        NewsParams.parse({})
    assert plan(NewsParams.parse({}, cluster=True)).starts == ()


# -- the policy: hops --------------------------------------------------------------


def test_links_on_pages_are_one_hop_more_up_to_the_max():
    follow = policy(max_hops=2, sites=frozenset({"news.example"}))
    url = "https://news.example/2026/03/02/bridge-reopens-after-repairs"
    for source in ("page", "related"):
        (request,) = follow.requests(links(source, url), hops=1)
        assert request.meta[HOPS] == 2
        assert list(follow.requests(links(source, url), hops=2)) == []


def test_what_a_listing_feed_or_sitemap_lists_is_requested_at_any_max():
    follow = policy(max_hops=0, sites=frozenset({"news.example"}))
    url = "https://news.example/2026/03/02/bridge-reopens-after-repairs"
    (listed,) = follow.requests(links("listing", url), hops=0)
    assert listed.meta[HOPS] == 0
    entries = Links("feed", "https://news.example/rss", Request, entries=[Entry(url)])
    (entry,) = follow.requests(entries, hops=0)
    assert entry.meta[HOPS] == 1


# -- the policy: site, shape, traps, counted by source and reason -------------------


def test_offsite_by_registrable_domain_and_by_host():
    news = policy(max_hops=1, sites=frozenset({site_of("www.example.co.uk")}))
    assert news.allows("https://feeds.example.co.uk/rss")
    assert not news.allows("https://example.com/")
    news.allow(["https://cdn.other.org/x"])
    assert news.allows("https://www.other.org/y")

    site = policy(
        max_hops=1,
        sites=frozenset({"euronews.com"}),
        hosts=frozenset({"127.0.0.1"}),
        by_host=True,
    )
    assert site.allows("https://fr.euronews.com/2026/01/06/a")
    assert site.allows("http://127.0.0.1:8000/2026/01/06/a")
    assert not site.allows("http://localhost:8000/2026/01/06/a")
    assert not site.allows("https://euronews.com.evil.example/2026/01/06/a")
    site.allow(["http://localhost:8000/"])
    assert site.allows("http://localhost:8000/2026/01/06/a")
    assert not site.allows("http://other.localhost/")


def test_page_links_need_the_generic_article_shape_and_are_counted_once():
    follow = policy(max_hops=1, sites=frozenset({"news.example"}))
    article = "/2026/03/02/bridge-reopens-after-repairs"
    found = links(
        "page",
        article,
        article + "?utm_source=x",  # the same link
        "/tag/transport",
        "/world",
        "https://elsewhere.example/2026/03/02/a-long-article-slug-here",
        "mailto:desk@news.example",
    )
    assert [r.url for r in follow.requests(found, hops=0)] == [
        "https://news.example" + article
    ]
    assert counts(follow) == {
        "page/segment": 1,
        "page/no_article_shape": 1,
        "page/offsite": 1,
    }


def test_a_site_has_its_own_article_shape():
    follow = policy(
        max_hops=2, sites=frozenset({"euronews.com"}), article_site="euronews"
    )
    found = links(
        "related",
        f"{EN}/my-europe/2026/01/06/a-story",
        f"{EN}/video/2026/01/06/a-video",
        base=f"{EN}/2026/01/06/start",
    )
    assert [r.url for r in follow.requests(found, hops=0)] == [
        f"{EN}/my-europe/2026/01/06/a-story"
    ]
    assert counts(follow) == {"related/not_article": 1}


def test_entries_newest_first_old_and_invalid_ones_counted():
    follow = policy(max_hops=1, sites=frozenset({"news.example"}), since="2026-03-01")
    entries = [
        Entry("https://news.example/old", published="2026-02-27T10:00:00+00:00"),
        Entry("https://news.example/new", published="2026-03-02T10:00:00+00:00"),
        Entry("https://news.example/undated"),
        Entry("ftp://news.example/file"),
        Entry("/tag/x"),
        Entry("https://news.example/more.xml", is_sitemap=True),
    ]
    listing = []
    batch = Links(
        "sitemap",
        "https://news.example/sitemap.xml",
        Request,
        entries=entries,
        listing=lambda url: listing.append(url) or Request(url),
    )
    requests = list(follow.requests(batch, hops=0))
    assert [r.url for r in requests] == [
        "https://news.example/new",
        "https://news.example/undated",
        "https://news.example/more.xml",
    ]
    assert listing == ["https://news.example/more.xml"]
    assert requests[0].priority > requests[1].priority
    assert counts(follow) == {
        "sitemap/too_old": 1,
        "sitemap/invalid": 1,
        "sitemap/segment": 1,
    }


def test_traps_are_refused_and_counted():
    follow = policy(max_hops=10, sites=frozenset({"news.example"}))
    loop = "/x/x/x/x/2026/03/02/a-story-about-a-loop"
    assert list(follow.requests(links("page", loop), hops=0)) == []
    assert counts(follow) == {"page/trap_repeated_segments": 1}

"""Pipelines, feed storage, settings and CLI pieces, tested without a crawl."""

from __future__ import annotations

import json
import logging

import pytest
from scrapy.exceptions import DropItem
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler

from newscrawl import settings as project_settings
from newscrawl.cli import main as cli_main
from newscrawl.feeds import PART_SUFFIX, AtomicFileFeedStorage
from newscrawl.items import ArticleItem
from newscrawl.logformatter import NewscrawlLogFormatter
from newscrawl.params import ArgumentError, EuronewsParams
from newscrawl.pipelines import DedupPipeline, ValidateArticlePipeline
from newscrawl.sampleserver import SAMPLE_SITE


def article(**fields) -> ArticleItem:
    base = {
        "url": "https://www.euronews.com/2026/01/06/a",
        "title": "A title",
        "body": "Some body text.",
        "site": "euronews",
        "fetched_at": "2026-01-06T10:00:00+00:00",
        "content_hash": "0" * 64,
        "word_count": 3,
    }
    base.update(fields)
    return ArticleItem(**base)


@pytest.fixture
def crawler():
    return get_crawler()


def test_validate_drops_missing_fields_with_counted_reason(crawler):
    pipe = build_from_crawler(ValidateArticlePipeline, crawler)
    assert pipe.process_item(article()) is not None
    with pytest.raises(DropItem, match="missing_body"):
        pipe.process_item(article(body=None))
    with pytest.raises(DropItem, match="missing_title"):
        pipe.process_item(article(title=""))
    assert crawler.stats.get_value("newscrawl/dropped/missing_body") == 1
    assert crawler.stats.get_value("newscrawl/dropped/missing_title") == 1


def test_validate_drops_schema_violations(crawler):
    pipe = build_from_crawler(ValidateArticlePipeline, crawler)
    with pytest.raises(DropItem, match=r"schema_invalid.*published"):
        pipe.process_item(article(published="yesterday"))
    assert crawler.stats.get_value("newscrawl/dropped/schema_invalid") == 1


def test_dedup_by_canonical_url_ignoring_tracking_and_scheme(crawler):
    pipe = build_from_crawler(DedupPipeline, crawler)
    pipe.process_item(article(content_hash="1" * 64))
    with pytest.raises(DropItem, match="duplicate_url"):
        pipe.process_item(
            article(
                url="http://www.euronews.com/2026/01/06/a/?utm_source=x",
                content_hash="2" * 64,
            )
        )
    with pytest.raises(DropItem, match="duplicate_url"):
        pipe.process_item(
            article(
                url="https://www.euronews.com/other",
                canonical_url="https://www.euronews.com/2026/01/06/a",
                content_hash="3" * 64,
            )
        )
    assert crawler.stats.get_value("newscrawl/dropped/duplicate_url") == 2


def test_dedup_by_content_hash(crawler):
    pipe = build_from_crawler(DedupPipeline, crawler)
    pipe.process_item(article(content_hash="a" * 64))
    with pytest.raises(DropItem, match="duplicate_content"):
        pipe.process_item(
            article(url="https://www.euronews.com/b", content_hash="a" * 64)
        )


def test_drop_is_logged_once_with_url_and_reason(crawler):
    pipe = build_from_crawler(ValidateArticlePipeline, crawler)
    with pytest.raises(DropItem) as info:
        pipe.process_item(article(body=None))
    spider = crawler._create_spider("x")
    entry = NewscrawlLogFormatter().dropped(
        article(body=None), info.value, None, spider
    )
    message = entry["msg"] % entry["args"]
    assert entry["level"] == logging.WARNING
    assert "missing_body" in message
    assert "https://www.euronews.com/2026/01/06/a" in message
    assert "Some body" not in message  # not the whole item


def test_atomic_storage_exposes_final_name_only_after_store(tmp_path):
    final = tmp_path / "feeds" / "run.jsonl"
    storage = AtomicFileFeedStorage(str(final))
    file = storage.open(None)
    file.write(b'{"a": 1}\n')
    assert not final.exists()
    assert final.with_name(final.name + PART_SUFFIX).exists()
    storage.store(file)
    assert final.read_bytes() == b'{"a": 1}\n'
    assert not final.with_name(final.name + PART_SUFFIX).exists()


def test_atomic_storage_never_appends_to_a_finished_file(tmp_path):
    final = tmp_path / "run.jsonl"
    final.write_text("old\n")
    storage = AtomicFileFeedStorage(str(final))
    storage.store(storage.open(None))
    assert final.read_text() == "old\n"
    assert storage.final_path == tmp_path / "run-2.jsonl"


def test_politeness_defaults():
    assert project_settings.ROBOTSTXT_OBEY is True
    assert project_settings.AUTOTHROTTLE_ENABLED is True
    assert 1 <= project_settings.CONCURRENT_REQUESTS_PER_DOMAIN <= 4
    assert project_settings.DOWNLOAD_DELAY >= 0.5
    assert project_settings.USER_AGENT.startswith("newscrawl/")
    assert project_settings.NEWSCRAWL_CONTACT in project_settings.USER_AGENT


def test_params_defaults_and_editions():
    params = EuronewsParams.from_spider_kwargs()
    assert params.related_depth == 2
    assert {"en", "fr", "de", "el", "fa", "ar"} <= set(params.editions)
    assert EuronewsParams.from_spider_kwargs(editions="gr,parsi,www").editions == (
        "el",
        "fa",
        "en",
    )


def test_params_urls_file(tmp_path):
    urls = tmp_path / "urls.txt"
    urls.write_text(
        "# seeds\nhttps://www.euronews.com/2026/01/06/a\n\nhttps://fr.euronews.com/\n"
    )
    params = EuronewsParams.from_spider_kwargs(
        urls_file=str(urls), url="https://x.org/"
    )
    assert params.urls == (
        "https://x.org/",
        "https://www.euronews.com/2026/01/06/a",
        "https://fr.euronews.com/",
    )


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"related_depth": "21"}, "related_depth"),
        ({"url": "www.euronews.com"}, "url"),
        ({"url": "https://x.org/", "editions": "en"}, "editions"),
        ({"editions": "klingon"}, "editions"),
    ],
)
def test_params_errors_name_the_argument(kwargs, name):
    with pytest.raises(ArgumentError) as info:
        EuronewsParams.from_spider_kwargs(**kwargs)
    assert info.value.name == name


def test_cli_parse_prints_the_item(capsys):
    page = (
        SAMPLE_SITE
        / "2026/01/04/leurope-a-besoin-dun-vrai-reseau-ferroviaire-commun.html"
    )
    assert (
        cli_main(
            [
                "parse",
                str(page),
                "--url",
                "https://fr.euronews.com/2026/01/04/x",
                "--fetched-at",
                "2026-01-05T00:00:00+00:00",
            ]
        )
        == 0
    )
    item = json.loads(capsys.readouterr().out)
    assert item["language"] == "fr"
    assert item["provenance"]["title"] == "euronews:V1_1"


def test_cli_sites_lists_euronews(capsys):
    assert cli_main(["sites"]) == 0
    assert (
        "euronews\teuronews.com\tV1 (until 2025-11-24), V1_1" in capsys.readouterr().out
    )


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"published": "yesterday"},
        {"language": "English"},
        {"content_hash": "xyz"},
        {"images": [{"url": "not a url", "caption": None, "credit": None}]},
        {"translations": {"x-default": "https://a.b/c"}},
        {"word_count": -1},
        {"extra_field": 1},
    ],
)
def test_fast_validator_agrees_with_reference_validator(change):
    from newscrawl.schema import first_error, validation_errors

    item = article(**{k: v for k, v in change.items() if k != "extra_field"}).to_dict()
    if "extra_field" in change:
        item["extra_field"] = 1
    assert (first_error(item) is None) == (validation_errors(item) == [])
    assert (first_error(item) is None) == (change == {})

"""The one door from a failed component to the run's health and exit code."""

from __future__ import annotations

import logging

import pytest
from scrapy.utils.test import get_crawler

from newscrawl.health import ExitCode, component_failed, failed_components, health
from newscrawl.report import build_report, summary_lines


def _report(stats: dict) -> dict:
    report = build_report({"finish_reason": "finished", **stats}, feeds=[])
    report.update(items_by_site={"example.org": 5}, coverage={})
    return report


def test_a_failed_component_is_counted_kept_and_logged_once(caplog):
    crawler = get_crawler()
    with caplog.at_level(logging.ERROR, logger="newscrawl.health"):
        component_failed(crawler, "state", "database disk image is malformed")
        component_failed(crawler, "state", "a second error")
    stats = crawler.stats.get_stats()
    assert stats["newscrawl/component_failed/state"] == 2
    assert failed_components(stats) == {"state": "database disk image is malformed"}
    assert [r.getMessage() for r in caplog.records] == [
        "The state failed: database disk image is malformed"
    ]


@pytest.mark.parametrize(
    ("component", "code"),
    [
        ("state", ExitCode.COMPONENT),
        ("cluster", ExitCode.COMPONENT),
        ("archive", ExitCode.OUTPUT),
        ("feed", ExitCode.OUTPUT),
        ("report", ExitCode.OUTPUT),
    ],
)
def test_a_failed_component_decides_the_exit_code(component, code):
    report = _report(
        {"item_scraped_count": 5, f"newscrawl/component_error/{component}": "boom"}
    )
    assert report["component_failures"] == {component: "boom"}
    assert health(report, {}, 0.5) == (code, [f"{component} failed: boom"])
    # ...and the summary says so in its last line.
    report["health"] = {
        "exit_code": int(code),
        "problems": [f"{component} failed: boom"],
    }
    assert summary_lines(report, "news")[-1].endswith(f"{component} failed: boom)")


def test_a_healthy_run_has_no_failed_component():
    report = _report({"item_scraped_count": 5})
    assert report["component_failures"] == {}
    assert health(report, {}, 0.5) == (ExitCode.OK, [])


def test_the_readme_lists_every_exit_code():
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text("utf-8")
    listed = {
        int(line.split("|")[1])
        for line in readme.splitlines()
        if line.startswith("| ") and line.split("|")[1].strip().isdigit()
    }
    assert listed == {int(code) for code in ExitCode}


def test_an_archive_that_cannot_be_written_makes_the_run_exit_73(tmp_path, monkeypatch):
    from scrapy import Request
    from scrapy.http import HtmlResponse

    from newscrawl.health import failed_components
    from newscrawl.warc.record import WarcRecorder

    crawler = get_crawler(settings_dict={"NEWSCRAWL_WARC": str(tmp_path)})
    recorder = WarcRecorder.from_crawler(crawler)

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(recorder, "_file", full)
    request = Request("https://example.org/2026/01/01/a-story")
    response = HtmlResponse(request.url, body=b"<html></html>", request=request)
    # The crawl's output goes on: the response is handed on unchanged...
    assert recorder.process_response(request, response) is response
    # ...but the run is not healthy, and says why.
    failed = failed_components(crawler.stats.get_stats())
    assert list(failed) == ["archive"]
    assert "No space left on device" in failed["archive"]
    report = _report(dict(crawler.stats.get_stats(), item_scraped_count=5))
    code, problems = health(report, {}, 0.5)
    assert code == ExitCode.OUTPUT
    assert problems[0].startswith("archive failed: cannot write a record of")

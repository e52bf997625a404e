"""Crawler-trap bounds: every reason on URLs written here, and the news it must admit."""

from __future__ import annotations

import random
from datetime import date, timedelta
from urllib.parse import urljoin

import pytest

from newscrawl.traps import REASONS, TrapGuard, url_template

TODAY = date(2026, 12, 1)
WORDS = [
    "minister",
    "resigns",
    "after",
    "vote",
    "eu",
    "leaders",
    "agree",
    "budget",
    "storm",
    "hits",
    "coast",
    "police",
    "arrest",
    "suspect",
    "court",
    "rules",
    "election",
    "results",
    "strike",
    "ends",
    "talks",
    "fail",
    "inflation",
    "rises",
    "bank",
    "cuts",
    "rates",
    "floods",
    "kill",
    "dozens",
    "wildfire",
    "spreads",
    "team",
    "wins",
    "final",
    "cup",
    "record",
    "heat",
    "wave",
    "new",
    "law",
    "passes",
    "protest",
    "grows",
]


def guard(**limits):
    return TrapGuard(today=TODAY, **limits)


def slug(rng: random.Random, words: int) -> str:
    return "-".join(rng.choice(WORDS) for _ in range(words))


def article_urls(count: int, seed: int = 7) -> list[str]:
    """Distinct article URLs of one host in the shapes real news sites use."""
    rng = random.Random(seed)
    urls: set[str] = set()
    while len(urls) < count:
        day = TODAY - timedelta(days=rng.randrange(5 * 365))
        dated = f"{day.year}/{day.month:02d}/{day.day:02d}"
        shape = rng.randrange(7)
        if shape == 0:
            path = f"/{dated}/{slug(rng, rng.randint(3, 8))}-{rng.randint(1, 99)}"
        elif shape == 1:
            section = rng.choice(("my-europe", "business", "culture", "green"))
            path = f"/{section}/{dated}/{slug(rng, rng.randint(4, 10))}"
        elif shape == 2:
            region = rng.choice(("world-europe", "uk-politics", "business"))
            path = f"/news/{region}-{rng.randrange(60_000_000, 70_000_000)}"
        elif shape == 3:
            path = f"/a/{rng.randrange(100_000_000, 999_999_999)}"
        elif shape == 4:
            path = f"/{dated}/world/europe/{slug(rng, 5)}.html"
        elif shape == 5:
            path = f"/politics/{slug(rng, rng.randint(3, 9))}"
        else:
            path = f"/sport/football/{rng.randrange(10_000_000, 99_999_999)}"
        urls.add(f"https://news.example{path}")
    return sorted(urls)


def test_reasons_are_stable():
    assert REASONS == (
        "trap_url_too_long",
        "trap_repeated_segments",
        "trap_too_deep",
        "trap_pagination",
        "trap_calendar",
        "trap_query_permutations",
        "trap_template",
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://x.com/calendar/2026/12/01?view=day",
            "x.com/calendar/N/N/N?view=*",
        ),
        ("https://X.COM/item/42?b=2&a=1#top", "x.com/item/N?a=*&b=*"),
        ("https://x.com/s/5f3a9c2e1b7d4e6f/home", "x.com/s/H/home"),
        (
            "https://x.com/v/3fa85f64-5717-4562-b3fc-2c963f66afa6",
            "x.com/v/H",
        ),
        ("https://x.com/deadbeef/facade", "x.com/deadbeef/facade"),
        ("https://x.com", "x.com/"),
        ("https://x.com/?amp", "x.com/?amp"),
    ],
)
def test_url_template(url, expected):
    assert url_template(url) == expected


def test_ten_thousand_articles_on_one_host_are_all_admitted():
    trap_guard = guard()
    urls = article_urls(10_000)
    assert [u for u in urls if trap_guard.rejected(u)] == []
    # Seen again on every page that links them: still admitted.
    assert [u for u in urls[:500] if trap_guard.rejected(u)] == []


def test_articles_addressed_by_query_id_are_admitted():
    trap_guard = guard()
    joomla = "https://x.com/index.php?option=com_content&view=article&id={}"
    urls = [f"https://x.com/?p={n}" for n in range(1, 2001)]
    urls += [f"https://x.com/article.php?id={n}" for n in range(1, 2001)]
    urls += [f"https://x.com/Story.aspx?ArticleID={n}" for n in range(1, 2001)]
    urls += [joomla.format(n) for n in range(1, 2001)]
    assert [u for u in urls if trap_guard.rejected(u)] == []


def test_url_too_long():
    trap_guard = guard()
    base = "https://x.com/2026/11/30/"
    fits = base + "a-b-c-" + "x" * (1000 - len(base) - 6)
    assert len(fits) == 1000
    assert trap_guard.rejected(fits) is None
    assert trap_guard.rejected(fits + "x") == "trap_url_too_long"


@pytest.mark.parametrize(
    "path",
    [
        "/a/b/a/b/a/b/",
        "/news/world/news/world/news/world/story",
        "/x/en/news/y/en/news/z/en/news",
        "/tag/tag/tag/tag/",
        "/a/x/a/y/a/z/a",
    ],
)
def test_repeated_segments(path):
    assert guard().rejected(f"https://x.com{path}") == "trap_repeated_segments"


@pytest.mark.parametrize(
    "path",
    [
        "/a/b/a/b/",
        "/tag/tag/tag/",
        "/2011/11/11/eleven-eleven-eleven",
        "/news/news-review-of-the-news",
    ],
)
def test_repetition_below_the_bound_is_admitted(path):
    assert guard().rejected(f"https://x.com{path}") is None


@pytest.mark.parametrize(
    ("base", "link"),
    [
        ("https://x.com/news/world/", "news/world/"),
        ("https://x.com/en/", "en/"),
        ("https://x.com/section/a/b/c/", "a/b/c/"),
        ("https://x.com/index.html", "archive/2026/index.html"),
    ],
)
def test_relative_link_loops_are_cut_without_counting(base, link):
    trap_guard = guard()
    admitted = 0
    url = base
    for _ in range(50):
        url = urljoin(url, link)
        reason = trap_guard.rejected(url)
        if reason:
            assert reason in {"trap_repeated_segments", "trap_too_deep"}
            break
        admitted += 1
    else:
        pytest.fail(f"loop {link!r} never cut")
    assert admitted <= 3
    # The cut is structural: a fresh guard refuses it on first sight.
    assert guard().rejected(url) == reason


@pytest.mark.parametrize(
    "url",
    [
        # Found in the links of the shared corpus pages.
        "http://ldh.la.gov/index.cfm/page/2327/n/468",
        "http://www.shia-explained.com/my/archives/2364",
        "https://www.spokesman.com/stories/2019/nov/19/meth-were-on-it-spokane-ad-agencies/",
        "https://metro.co.uk/2024/07/17/king-charles-arrives-parliament-21244172/",
        "https://p.dw.com/p/4boRv",
    ],
)
def test_real_links_that_look_like_traps_are_admitted(url):
    assert guard().rejected(url) is None


def test_the_fragment_is_not_part_of_the_url():
    trap_guard = guard(max_per_template=1)
    assert trap_guard.rejected("https://x.com/item/1#top") is None
    assert trap_guard.rejected("https://x.com/item/1#comments") is None
    assert trap_guard.rejected("https://x.com/item/2") == "trap_template"
    assert trap_guard.rejected("https://x.com/item/1#" + "x" * 2000) is None


def test_too_deep():
    trap_guard = guard()
    twelve = "/".join(f"s{n}" for n in range(12))
    assert trap_guard.rejected(f"https://x.com/{twelve}") is None
    assert trap_guard.rejected(f"https://x.com/{twelve}/s12") == "trap_too_deep"


def test_pagination_in_path_is_cut_at_the_limit():
    trap_guard = guard()
    verdicts = [trap_guard.rejected(f"https://x.com/page/{n}") for n in range(1, 1001)]
    assert verdicts[:50] == [None] * 50
    assert set(verdicts[50:]) == {"trap_pagination"}


@pytest.mark.parametrize(
    "template",
    [
        "https://x.com/news?page={}",
        "https://x.com/blog/?paged={}",
        "https://x.com/world/page-{}",
        "https://x.com/2026/11/30/page/{}",
        "https://x.com/news?page={}&sort=new",
    ],
)
def test_pagination_forms(template):
    trap_guard = guard()
    assert trap_guard.rejected(template.format(50)) is None
    assert trap_guard.rejected(template.format(51)) == "trap_pagination"


def test_every_section_gets_its_own_pages():
    trap_guard = guard()
    sections = ("world", "europe", "business", "sport", "culture")
    urls = [f"https://x.com/{s}?page={n}" for s in sections for n in range(1, 51)]
    assert [u for u in urls if trap_guard.rejected(u)] == []


def test_calendar_walking_day_by_day_is_cut_at_the_limit():
    trap_guard = guard()
    day = TODAY - timedelta(days=200)
    verdicts = []
    for _ in range(400):
        verdicts.append(
            trap_guard.rejected(
                f"https://x.com/calendar/{day.year}/{day.month:02d}/{day.day:02d}"
            )
        )
        day += timedelta(days=1)
    assert verdicts[:50] == [None] * 50
    assert set(verdicts[50:]) == {"trap_calendar"}


@pytest.mark.parametrize(
    "template",
    [
        "https://x.com/events?date={:%Y-%m-%d}",
        "https://x.com/archive?date={:%Y%m%d}",
        "https://x.com/?m={:%Y%m%d}",
        "https://x.com/{:%Y/%m/%d}/",
        "https://x.com/agenda/{:%Y-%m-%d}/day-view",
        "https://x.com/calendar/{:%Y%m%d}",
        "https://x.com/schedule?year={:%Y}&month={:%m}&day={:%d}",
    ],
)
def test_calendar_forms_walking_backwards(template):
    trap_guard = guard()
    day = TODAY
    verdicts = []
    for _ in range(120):
        verdicts.append(trap_guard.rejected(template.format(day, day, day)))
        day -= timedelta(days=1)
    assert verdicts[:50] == [None] * 50
    assert set(verdicts[50:]) == {"trap_calendar"}


def test_calendar_budget_is_per_host_and_spares_articles():
    trap_guard = guard(max_calendar_pages=5)
    for n in range(1, 6):
        assert trap_guard.rejected(f"https://a.com/events?day={n}") is None
    assert trap_guard.rejected("https://a.com/events?day=6") == "trap_calendar"
    assert trap_guard.rejected("https://b.com/events?day=6") is None
    article = "https://a.com/2026/11/30/minister-resigns-after-vote-7"
    assert trap_guard.rejected(article) is None


def test_a_calendar_link_on_every_page_is_counted_once():
    trap_guard = guard(max_calendar_pages=2)
    for _ in range(1000):
        assert trap_guard.rejected("https://x.com/calendar/2026/11/30") is None
    assert trap_guard.rejected("https://x.com/calendar/2026/11/29") is None
    assert trap_guard.rejected("https://x.com/calendar/2026/11/28") == "trap_calendar"


@pytest.mark.parametrize(
    "url",
    [
        "https://x.com/calendar/2028/01/01",
        "https://x.com/calendar/2999/12",
        "https://x.com/events?date=2030-05-01",
        "https://x.com/archive/1989/12/31",
        "https://x.com/archive?year=1970",
        "https://x.com/1985/03/",
        "https://x.com/calendar/19891231",
    ],
)
def test_calendar_dates_out_of_range_are_rejected_outright(url):
    assert guard().rejected(url) == "trap_calendar"


@pytest.mark.parametrize(
    "url",
    [
        "https://x.com/calendar/2027/11/30",
        "https://x.com/archive/1990/01/01",
        # Archived articles keep their old dates.
        "https://x.com/1985/03/12/world/talks-resume-in-geneva.html",
        "https://x.com/archive/1987/06/12/wall-speech-draws-crowds",
        # An eight-digit article id is not a date outside a calendar.
        "https://x.com/a/21051123",
    ],
)
def test_dates_in_range_or_of_articles_are_admitted(url):
    assert guard().rejected(url) is None


def test_query_permutations_are_cut_at_the_limit():
    trap_guard = guard()
    combos = [
        f"https://x.com/products?sort={s}&filter={f}&view={v}"
        for s in ("new", "old", "top", "price")
        for f in ("a", "b", "c", "d", "e")
        for v in ("grid", "list")
    ]
    verdicts = [trap_guard.rejected(u) for u in combos]
    assert verdicts[:20] == [None] * 20
    assert set(verdicts[20:]) == {"trap_query_permutations"}
    # Same query in another order: the same permutation, still admitted.
    assert (
        trap_guard.rejected("https://x.com/products?view=grid&filter=a&sort=new")
        is None
    )


def test_session_ids_are_cut_per_path():
    trap_guard = guard()
    rng = random.Random(3)
    verdicts = [
        trap_guard.rejected(
            f"https://x.com/article.php?id={rng.randrange(1000)}&sid={rng.getrandbits(64):x}"
        )
        for _ in range(100)
    ]
    assert verdicts[:20] == [None] * 20
    assert set(verdicts[20:]) == {"trap_query_permutations"}


def test_tracking_parameters_per_article_are_bounded_per_article():
    trap_guard = guard()
    for article in article_urls(200):
        for source in ("twitter", "facebook", "email"):
            assert trap_guard.rejected(f"{article}?utm_source={source}") is None


def test_template_without_article_shape_is_cut_at_the_limit():
    trap_guard = guard()
    verdicts = [trap_guard.rejected(f"https://x.com/item/{n}") for n in range(1000)]
    assert verdicts[:500] == [None] * 500
    assert set(verdicts[500:]) == {"trap_template"}
    # What was admitted stays admitted when linked again.
    assert trap_guard.rejected("https://x.com/item/7") is None


def test_hex_session_in_path_is_a_template():
    trap_guard = guard(max_per_template=10)
    rng = random.Random(5)
    sessions = [f"{rng.getrandbits(48):012x}" for _ in range(20)]
    verdicts = [trap_guard.rejected(f"https://x.com/s/{s}/home") for s in sessions]
    assert verdicts[:10] == [None] * 10
    assert set(verdicts[10:]) == {"trap_template"}


def test_slugged_or_numbered_articles_are_exempt_from_the_template_bound():
    trap_guard = guard(max_per_template=5)
    urls = [f"https://x.com/news/world-europe-{67_000_000 + n}" for n in range(50)]
    urls += [f"https://x.com/2026/11/30/storm-hits-coast-{n}" for n in range(50)]
    urls += [f"https://x.com/item/{n:024x}" for n in range(1, 51)]
    assert [u for u in urls if trap_guard.rejected(u)] == []


def test_a_rejected_url_spends_no_budget():
    trap_guard = guard(max_per_template=3, max_page=2)
    for n in range(10):
        assert (
            trap_guard.rejected(f"https://x.com/list/{n}/page/9") == "trap_pagination"
        )
    for n in range(3):
        assert trap_guard.rejected(f"https://x.com/list/{n}") is None


def test_memory_stays_bounded():
    rng = random.Random(11)
    trap_guard = guard(max_templates=1000, max_remembered=5000)
    shapes = (
        "https://h{h}.example/item/{n}",
        "https://h{h}.example/search?q={n}&sort={s}",
        "https://h{h}.example/calendar/{y}/{m}/{d}",
        "https://h{h}.example/s{n}/x{s}/list",
        "https://h{h}.example/2026/11/30/minister-resigns-{n}-{s}",
        "https://h{h}.example/?p={n}&ref={s}",
    )
    most_templates = most_urls = 0
    for _ in range(100_000):
        url = rng.choice(shapes).format(
            h=rng.randrange(300),
            n=rng.randrange(10**6),
            s=rng.randrange(50),
            y=rng.randrange(1990, 2027),
            m=rng.randrange(1, 13),
            d=rng.randrange(1, 29),
        )
        trap_guard.rejected(url)
        most_templates = max(most_templates, trap_guard.tracked_templates)
        most_urls = max(most_urls, trap_guard.remembered_urls)
    # Used up to near the cap, never past it.
    assert 500 < most_templates <= 1000
    assert 2500 < most_urls <= 5000


def test_a_live_trap_survives_eviction():
    trap_guard = guard(max_templates=100, max_per_template=10)
    for n in range(10):
        assert trap_guard.rejected(f"https://x.com/item/{n}") is None
    # Thousands of other templates come and go; the trap is tried in between.
    for n in range(5000):
        assert trap_guard.rejected(f"https://h{n}.example/list/{n % 10}") is None
        assert trap_guard.rejected(f"https://x.com/item/{100 + n}") == "trap_template"


@pytest.mark.parametrize("cap", [0, 1])
def test_caps_below_two_are_refused(cap):
    with pytest.raises(ValueError, match="at least 2"):
        TrapGuard(max_templates=cap)


def test_dated_articles_with_short_slugs_are_not_a_template_trap():
    # Found by benchmarks/crawl_rate.py: /2026/01/06/copy-N, 600 articles of one
    # day, were cut at 500 as one template.
    guard = TrapGuard()
    urls = [f"https://news.example/bench/2026/01/06/copy-{i}" for i in range(2_000)]
    assert [u for u in urls if guard.rejected(u)] == []

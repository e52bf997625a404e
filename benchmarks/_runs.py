"""What the crawl benchmarks share: child processes, their failures, warnings."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


class CrawlFailedError(Exception):
    """A crawl exited badly, timed out or left no usable run report."""

    def __init__(self, what: str, why: str, stderr: str) -> None:
        super().__init__(f"{what}: {why}")
        self.stderr = stderr


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def check(condition: bool, message: str) -> None:
    """A crawl finished but did not do what the measurement assumes: say so."""
    if not condition:
        log(f"warning: {message}")


def child_env() -> dict[str, str]:
    """This environment without proxies (loopback only), the repo importable."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "tests"), str(ROOT)])
    return env


def run_child(what: str, args: list[str], timeout: float) -> tuple[int, str, str]:
    """Run ``args`` from the repo root: (exit code, stdout, stderr)."""
    try:
        result = subprocess.run(
            args,
            check=False,
            cwd=ROOT,
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr or ""
        if isinstance(stderr, bytes):
            stderr = stderr.decode("utf-8", "replace")
        raise CrawlFailedError(
            what, f"timed out after {timeout:.0f} s", stderr
        ) from None
    return result.returncode, result.stdout, result.stderr


def print_table(
    results: dict[str, list[float]],
    metrics: dict[str, tuple[str, str]],
    names: dict[str, Any],
) -> dict[str, dict[str, Any]]:
    """Print a Markdown table of each metric's median, min and max; return them.

    ``metrics`` maps a result key to its label (formatted with ``names``) and
    number format; keys without results are left out.
    """
    print("| measurement | median | min | max |")
    print("|:--|--:|--:|--:|")
    summary: dict[str, dict[str, Any]] = {}
    for key, (label, fmt) in metrics.items():
        values = results.get(key)
        if not values:
            continue
        row = {
            "median": statistics.median(values),
            "min": min(values),
            "max": max(values),
        }
        cells = " | ".join(format(row[k], fmt) for k in ("median", "min", "max"))
        print(f"| {label.format(**names)} | {cells} |")
        summary[key] = {**row, "runs": values}
    return summary

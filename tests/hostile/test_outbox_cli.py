"""The outbox over the real command line: refused reports, and a run killed mid-POST.

``python main.py`` runs in a subprocess on a profile whose Omnitron is the simulator
behind the hostile proxy; Omnitron's reports are read over its API.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from service.paths import PROJECT_ROOT
from tests.conftest import RunningMarketplace, RunningOmnitron
from tests.hostile.proxy import HostileProxy, Rule
from tests.profiles import sim_profile, sim_secrets, write_profiles
from tests.sandbox.omnitron_api import OmnitronApi

TIMEOUT = 180
REPORTS = r"/error_reports/$"


@dataclass
class Profile:
    """A profile on the proxied Omnitron and the marketplace, and how to run main.py on it."""

    env: dict[str, str]
    proxy: HostileProxy
    api: OmnitronApi

    def args(self, *args: str) -> list[str]:
        return [sys.executable, str(PROJECT_ROOT / "main.py"), *args, "--profile", "hostile"]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``main.py`` to its end; stdout and stderr captured as text."""
        return subprocess.run(
            self.args(*args),
            capture_output=True,
            text=True,
            env=self.env,
            timeout=TIMEOUT,
            cwd=PROJECT_ROOT,
        )

    def reports(self, *extra: str) -> list[dict[str, Any]]:
        """``errors --json`` of the local store."""
        result = self.cli("errors", "--json", "--limit", "1000", *extra)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def held(self) -> Counter[str]:
        """How many times Omnitron holds each error code."""
        rows = self.api.all_pages(self.api.ch("error_reports/"), {"limit": 1000})
        return Counter(row["error_code"] for row in rows)


@pytest.fixture
def profile(
    start_omnitron: Callable[..., RunningOmnitron],
    start_marketplace: Callable[..., RunningMarketplace],
    hostile_proxy: Callable[[str], HostileProxy],
    tmp_path: Path,
) -> Profile:
    omnitron = start_omnitron()
    market = start_marketplace(initial_orders=16, broken_share=0.25, arrival_per_hour=0)
    proxy = hostile_proxy(omnitron.base_url)
    cfg = omnitron.config
    table = sim_profile(
        f"{proxy.url}/", market.base_url, omnitron=cfg, workers=2, is_success_log=False
    )
    config = write_profiles(tmp_path / "profiles.toml", {"hostile": table})
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHANNELDESK_")}
    env.update(
        CHANNELDESK_DATA_DIR=str(tmp_path / "data"),
        CHANNELDESK_CONFIG=str(config),
        **sim_secrets("hostile", omnitron=cfg, marketplace=market.config),
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
    )
    api = OmnitronApi(omnitron.base_url, cfg.username, cfg.password, cfg.channel_id)
    return Profile(env, proxy, api)


def test_a_refused_report_is_dead_the_rest_arrive_and_the_run_exits_0(profile: Profile) -> None:
    refuse = profile.proxy.add(
        Rule(
            method="POST",
            path=REPORTS,
            action="status",
            status=413,
            body={"detail": "Request entity too large"},
            skip=1,
            times=1,
        )
    )

    run = profile.cli("run", "fetch-orders", "--json")

    assert run.returncode == 0, run.stderr
    # The sandbox's broken orders fail; the run completes with them.
    assert json.loads(run.stdout)["outcome"] == "completed_with_failures"
    assert refuse.hits == 1
    reports = profile.reports()
    assert len(reports) >= 3
    (dead,) = [r for r in reports if r["dead"]]
    assert not dead["delivered"]
    assert "HTTP 413" in dead["delivery_error"]
    assert "Request entity too large" in dead["delivery_error"]
    others = [r["code"] for r in reports if not r["dead"]]
    assert profile.held() == Counter(others)
    assert all(r["delivered"] for r in reports if not r["dead"])

    outbox = profile.reports("--outbox")
    assert [r["id"] for r in outbox] == [dead["id"]]
    table = profile.cli("errors", "--outbox")
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert header.split()[:5] == ["ID", "CREATED", "STATE", "FLOW", "RUN"]
    assert len(rows) == 1
    assert rows[0].split()[0] == str(dead["id"])
    assert " refused " in rows[0]
    assert "HTTP 413" in rows[0]

    # The next run does not try the dead report again, and its summary says it is there.
    again = profile.cli("run", "fetch-orders")
    assert again.returncode == 0, again.stderr
    assert refuse.hits == 1
    assert again.stdout.splitlines()[-1] == (
        "  0 error report(s) wait in the outbox for Omnitron; 1 refused by Omnitron "
        "(python main.py errors --outbox lists them)."
    )
    assert dead["code"] not in profile.held()


def test_a_run_killed_while_posting_a_report_does_not_post_it_twice(profile: Profile) -> None:
    # The report reaches Omnitron; its answer drips so slowly that the run is still
    # waiting for it when it is terminated.
    slow = profile.proxy.add(
        Rule(method="POST", path=REPORTS, action="slow", chunk=1, interval=30, times=1)
    )
    process = subprocess.Popen(
        profile.args("run", "fetch-orders"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=profile.env,
        cwd=PROJECT_ROOT,
    )
    try:
        deadline = time.monotonic() + TIMEOUT
        while not (slow.hits and profile.held()):
            assert process.poll() is None, "the run ended before its report was cut off"
            assert time.monotonic() < deadline, "the report never reached Omnitron"
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    # Workers posted other reports meanwhile; the slow one was cut off mid-POST: it
    # is in Omnitron, and the store says only that its POST started. Another worker's
    # POST may have been cut off before it arrived: started, but not held.
    held_at_kill = profile.held()
    cut_off = [r for r in profile.reports() if r["sending_at"] and not r["delivered"]]
    assert any(held_at_kill[r["code"]] == 1 for r in cut_off), "no report was cut off mid-POST"
    assert all(held_at_kill[r["code"]] <= 1 for r in cut_off)
    profile.proxy.clear()

    posts = profile.proxy.requests.count
    path = ("POST", f"/api/v1/channel/{profile.api.channel_id}/error_reports/")
    before = posts(path)
    run = profile.cli("run", "fetch-orders", "--json")

    assert run.returncode == 0, run.stderr
    codes = [r["code"] for r in profile.reports()]
    assert profile.held() == Counter(codes)
    assert set(profile.held().values()) == {1}
    assert profile.reports("--outbox") == []
    # What Omnitron held already (the cut-off reports included) was not posted again.
    assert posts(path) - before <= len(codes) - len(held_at_kill)

"""``main.py mirror``: a profile's store gets what another deployment wrote to Omnitron."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from service.store import ErrorQuery, Store
from tests.conftest import RunningMarketplace, RunningOmnitron
from tests.profiles import sim_profile, sim_secrets, write_profiles
from tests.sandbox.omnitron_api import OmnitronApi, new_batch
from tests.test_cli import _env, cli

PROFILE = "shop"


def test_mirror_command_syncs_a_profile_and_a_second_call_adds_nothing(
    start_omnitron: Callable[..., RunningOmnitron],
    start_marketplace: Callable[..., RunningMarketplace],
    tmp_path: Path,
) -> None:
    omnitron = start_omnitron()
    market = start_marketplace(initial_orders=0)
    table = sim_profile(omnitron.base_url, market.base_url, omnitron=omnitron.config)
    config = write_profiles(tmp_path / "profiles.toml", {PROFILE: table})
    secrets = sim_secrets(PROFILE, omnitron=omnitron.config, marketplace=market.config)
    env = _env(tmp_path / "data", CHANNELDESK_CONFIG=str(config), **secrets)
    other = OmnitronApi(omnitron.base_url)
    batch = new_batch(other)
    other.post(
        other.ch("error_reports/"),
        {"error_code": f"{batch['local_batch_id']}-Channel-GetOrders_55", "error_desc": "x"},
    )
    other.close()

    first = cli("mirror", "--profile", PROFILE, "--json", env=env)
    again = cli("mirror", "--profile", PROFILE, env=env)

    assert first.returncode == 0, first.stderr
    counts = json.loads(first.stdout)
    assert (counts["batches_new"], counts["reports_new"]) == (1, 1), counts
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "Nothing new from Omnitron."
    with Store(tmp_path / "data" / "profiles" / f"{PROFILE}.sqlite3") as store:
        assert [b.pk for b in store.list_batches(origin="remote")] == [batch["pk"]]
        (report,) = store.search_error_reports(ErrorQuery())
        assert (report.origin, report.subject) == ("remote", "55")
    # The tables say where each row came from.
    for command in ("batches", "errors"):
        listed = cli(command, "--profile", PROFILE, env=env)
        assert listed.returncode == 0, listed.stderr
        header, row = listed.stdout.splitlines()
        at = header.index("ORIGIN")  # an aligned table: the column starts there
        assert row[at:].split()[0] == "remote", listed.stdout


def test_mirror_command_says_why_a_profile_cannot_be_synced(tmp_path: Path) -> None:
    answer = cli("mirror", "--profile", "nowhere", env=_env(tmp_path / "data"))
    assert answer.returncode == 2
    assert answer.stderr.startswith("error: ")
    assert "nowhere" in answer.stderr

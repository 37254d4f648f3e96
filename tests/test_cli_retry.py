"""``python main.py errors`` (failures, causes, values-only search) and ``retry``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from pydantic import SecretStr

from service.flows.orders.lookups import OrderLookups
from service.omnitron.client import OmnitronClient
from service.omnitron.settings import OmnitronSettings
from service.sandbox.launcher import Sandbox, SandboxOptions
from service.store import Store
from service.store_records import Alias
from tests.test_cli import RESULT_KEYS, SandboxRun, _env, _json, cli

# The sandbox's Omnitron seeds Türkiye's 81 provinces.
ISTANBUL_NAME = "İstanbul"


@pytest.fixture(scope="module")
def sandbox_run(tmp_path_factory: pytest.TempPathFactory) -> SandboxRun:
    """fetch-orders once on the sandbox profile (its default share of broken orders)."""
    data_dir = tmp_path_factory.mktemp("cli-retry")
    env = _env(data_dir)
    process = cli("run", "fetch-orders", "--json", env=env)
    assert process.returncode == 0, process.stderr
    return SandboxRun(env, data_dir, process, json.loads(process.stdout))


def _store(run: SandboxRun) -> Store:
    return Store(run.data_dir / "profiles" / "sandbox.sqlite3")


def test_errors_lists_failures_by_default_with_cause_and_subject(sandbox_run: SandboxRun) -> None:
    failures = _json(cli("errors", "--json", "--limit", "1000", env=sandbox_run.env))
    every = _json(cli("errors", "--json", "--all", "--limit", "1000", env=sandbox_run.env))
    assert failures
    assert all(report["is_ok"] is False for report in failures)
    assert any(report["is_ok"] for report in every)
    assert {r["id"] for r in failures} < {r["id"] for r in every}
    for report in failures:
        assert report["cause"], report
        assert report["subject"], report
        assert report["resolved"] is False
        assert "cause_value" in report
    city = _json(cli("errors", "--json", "--cause", "unknown_city", env=sandbox_run.env))
    assert city
    assert {(r["cause"], r["cause_value"]) for r in city} == {("unknown_city", "Istambul")}
    table = cli("errors", env=sandbox_run.env)
    assert table.returncode == 0, table.stderr
    assert "CAUSE" in table.stdout.splitlines()[0]
    assert " ok " not in table.stdout


def test_errors_search_matches_values_not_json_keys(sandbox_run: SandboxRun) -> None:
    # Every order's JSON has a "city" key; only the unknown-city failures say "city".
    found = _json(cli("errors", "--json", "--all", "--search", "city", env=sandbox_run.env))
    assert found
    assert all("city" in report["description"].lower() for report in found)
    # A value inside the raw order JSON (the channel's misspelt city) is found.
    by_value = _json(cli("errors", "--json", "--search", "Istambul", env=sandbox_run.env))
    assert {r["cause"] for r in by_value} == {"unknown_city"}


def test_retry_after_the_fix_creates_the_orders_and_resolves_them(
    sandbox_run: SandboxRun,
) -> None:
    env = sandbox_run.env
    before = _json(cli("errors", "--json", "--cause", "unknown_city", env=env))
    subjects = {r["subject"] for r in before}

    with _omnitron(sandbox_run) as omnitron:
        country = OrderLookups(omnitron, None).country("tr")
        assert country is not None
        city = omnitron.find_city(country.pk, ISTANBUL_NAME)
        assert city is not None
    with _store(sandbox_run) as store:
        # The mapping the console's Fix saves: the channel's spelling → Omnitron's city.
        store.set_alias(
            Alias(kind="city", channel_value="Istambul", omnitron_pk=city.pk, label=city.name)
        )

    process = cli("retry", "--cause", "unknown_city", "--value", "Istambul", "--json", env=env)
    result = _json(process)
    assert set(result) >= RESULT_KEYS
    assert result["flow"] == "fetch-orders"
    assert result["outcome"] == "completed"
    assert result["counts"]["created"] == len(subjects)

    after = _json(cli("errors", "--json", "--cause", "unknown_city", env=env))
    assert {r["subject"] for r in after} == subjects
    assert all(r["resolved"] for r in after)
    runs = _json(cli("runs", "--json", env=env))
    assert runs[0]["id"] == result["run_id"]
    assert runs[0]["flow"] == "fetch-orders"

    with _omnitron(sandbox_run) as omnitron:
        for number in subjects:
            assert omnitron.find_order_by_number(number) is not None, number

    again = cli("retry", "--cause", "unknown_city", env=env)
    assert again.returncode == 1
    assert "nothing to retry" in again.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("retry",),
        ("retry", "--value", "Istambul"),
        ("retry", "--cause", "no_such_cause"),
        ("retry", "--report", "999999"),
    ],
)
def test_retry_usage_errors_exit_2(sandbox_run: SandboxRun, args: tuple[str, ...]) -> None:
    process = cli(*args, env=sandbox_run.env)
    assert process.returncode == 2, process.stderr
    assert process.stderr.strip()


@contextmanager
def _omnitron(run: SandboxRun) -> Iterator[OmnitronClient]:
    """A client on the sandbox's Omnitron, served from the state the CLI left."""
    with Sandbox(SandboxOptions(data_dir=run.data_dir / "sandbox")) as sandbox:
        config = sandbox.omnitron.config
        client = OmnitronClient(
            OmnitronSettings(
                base_url=sandbox.omnitron_url,
                username=config.username,
                password=SecretStr(config.password),
                channel_id=config.channel_id,
                catalog_id=config.catalog_id,
            )
        )
        try:
            yield client
        finally:
            client.close()

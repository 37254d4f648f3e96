"""``python main.py run|runs|batches|errors`` over the real entry point, in subprocesses."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from service.flows.names import Flow
from service.paths import PROJECT_ROOT

TIMEOUT = 120
RESULT_KEYS = {
    "flow",
    "profile",
    "run_id",
    "outcome",
    "message",
    "counts",
    "batches",
    "error_reports",
    "duration_s",
}


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHANNELDESK_")}
    env["CHANNELDESK_DATA_DIR"] = str(data_dir)
    # A profiles file that does not exist: the user's own profiles never leak in.
    env["CHANNELDESK_CONFIG"] = str(data_dir / "no-profiles.toml")
    env.update(extra)
    return env


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``main.py`` with ``args``; stdout and stderr captured as text."""
    return subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "main.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=TIMEOUT,
        cwd=PROJECT_ROOT,
    )


def _json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    # json.loads refuses trailing data, so this also proves "exactly one document".
    return json.loads(result.stdout)


@dataclass
class SandboxRun:
    """One ``run fetch-orders --json`` against the sandbox and where its data lives."""

    env: dict[str, str]
    data_dir: Path
    process: subprocess.CompletedProcess[str]
    result: dict[str, Any]


@pytest.fixture(scope="module")
def sandbox_run(tmp_path_factory: pytest.TempPathFactory) -> SandboxRun:
    """fetch-orders once on the sandbox profile; the listings below read its store."""
    data_dir = tmp_path_factory.mktemp("cli-data")
    env = _env(data_dir)
    process = cli("run", "fetch-orders", "--json", env=env)
    assert process.returncode == 0, process.stderr
    return SandboxRun(env, data_dir, process, json.loads(process.stdout))


def test_run_prints_exactly_one_json_object(sandbox_run: SandboxRun) -> None:
    result = sandbox_run.result
    assert isinstance(result, dict)
    assert set(result) == RESULT_KEYS
    assert result["flow"] == "fetch-orders"
    assert result["profile"] == "sandbox"
    # The sandbox's broken orders fail: completed, with failures.
    assert result["outcome"] == "completed_with_failures"
    assert isinstance(result["run_id"], int)
    assert set(result["counts"]) == {"created", "updated", "skipped", "failed", "waiting"}
    assert result["counts"]["failed"] > 0
    assert result["counts"]["created"] > 0
    assert result["batches"], "fetch-orders opens a batch request"
    for batch in result["batches"]:
        assert batch["status"] in {"done", "fail"}
        assert {"pk", "local_batch_id", "objects"} <= set(batch)
    # The sandbox marketplace includes realistically broken orders by default.
    assert result["error_reports"] > 0
    assert result["duration_s"] > 0


def test_run_keeps_sandbox_state_in_the_data_dir(sandbox_run: SandboxRun) -> None:
    sandbox_dir = sandbox_run.data_dir / "sandbox"
    assert (sandbox_dir / "omnitron.sqlite3").exists()
    assert (sandbox_dir / "marketplace.sqlite3").exists()
    assert (sandbox_run.data_dir / "profiles" / "sandbox.sqlite3").exists()


def test_runs_lists_the_run(sandbox_run: SandboxRun) -> None:
    runs = _json(cli("runs", "--json", env=sandbox_run.env))
    assert isinstance(runs, list)
    mine = [run for run in runs if run["id"] == sandbox_run.result["run_id"]]
    assert len(mine) == 1
    assert mine[0]["flow"] == "fetch-orders"
    # The same outcome name as `run --json` printed for it.
    assert mine[0]["outcome"] == sandbox_run.result["outcome"]
    assert mine[0]["created"] == sandbox_run.result["counts"]["created"]
    assert mine[0]["error_count"] == sandbox_run.result["error_reports"]
    assert _json(cli("runs", "--json", "--flow", "update-orders", env=sandbox_run.env)) == []


def test_batches_lists_the_runs_batch(sandbox_run: SandboxRun) -> None:
    batches = _json(cli("batches", "--json", env=sandbox_run.env))
    listed = {batch["pk"]: batch for batch in batches}
    for batch in sandbox_run.result["batches"]:
        assert listed[batch["pk"]]["status"] == batch["status"]
        assert listed[batch["pk"]]["local_batch_id"] == batch["local_batch_id"]
    # Every batch of that run ended final, so none is listed as still open.
    open_ones = _json(
        cli(
            "batches",
            "--json",
            "--status",
            "initialized",
            "--status",
            "commit",
            env=sandbox_run.env,
        )
    )
    assert not {batch["pk"] for batch in open_ones} & set(listed)


def test_errors_lists_failure_reports(sandbox_run: SandboxRun) -> None:
    failures = _json(cli("errors", "--json", "--status", "fail", env=sandbox_run.env))
    assert failures
    assert all(report["is_ok"] is False for report in failures)
    assert all(report["code"] and report["description"] for report in failures)
    of_run = _json(
        cli(
            "errors",
            "--json",
            "--status",
            "fail",
            "--run",
            str(sandbox_run.result["run_id"]),
            env=sandbox_run.env,
        )
    )
    assert len(of_run) == sandbox_run.result["error_reports"]
    # Full-text search finds a report by a word of its description.
    word = failures[0]["subject"] or failures[0]["code"]
    found = _json(cli("errors", "--json", "--search", word, env=sandbox_run.env))
    assert failures[0]["id"] in {report["id"] for report in found}


def test_listings_print_aligned_tables(sandbox_run: SandboxRun) -> None:
    runs = cli("runs", env=sandbox_run.env)
    assert runs.returncode == 0, runs.stderr
    header, *rows = runs.stdout.splitlines()
    assert header.split()[:3] == ["ID", "FLOW", "STARTED"]
    assert any("fetch-orders" in row and "completed" in row for row in rows)
    # Aligned: the FLOW column starts at the same offset on every line.
    offset = header.index("FLOW")
    assert all(row[offset:].startswith("fetch-orders") for row in rows)
    for command in ("batches", "errors"):
        listing = cli(command, env=sandbox_run.env)
        assert listing.returncode == 0, listing.stderr
        assert len(listing.stdout.splitlines()) >= 2


def test_data_dir_option_wins_over_the_environment(sandbox_run: SandboxRun, tmp_path: Path) -> None:
    assert _json(cli("--data-dir", str(tmp_path), "runs", "--json", env=sandbox_run.env)) == []
    assert _json(cli("runs", "--data-dir", str(tmp_path), "--json", env=sandbox_run.env)) == []


@pytest.mark.parametrize("command", [["run", "fetch-orders"], ["runs"], ["errors"]])
def test_unknown_profile_exits_2_with_one_line(tmp_path: Path, command: list[str]) -> None:
    result = cli(*command, "--profile", "nosuch", "--json", env=_env(tmp_path))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "nosuch" in lines[0]


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_omnitron_exits_1_with_one_line(tmp_path: Path) -> None:
    port = _closed_port()
    config = tmp_path / "profiles.toml"
    config.write_text(
        f"""
[profiles.offline.omnitron]
url = "http://127.0.0.1:{port}/"
username = "integration"
channel_id = 1
catalog_id = 1
# A short outage rule keeps the test short; the rule itself is what is tested.
outage_failures = 3
outage_seconds = 2

[profiles.offline.channel.settings]
base_url = "http://127.0.0.1:{port}/"
""",
        encoding="utf-8",
    )
    env = _env(
        tmp_path,
        CHANNELDESK_CONFIG=str(config),
        CHANNELDESK_OFFLINE_OMNITRON_PASSWORD="secret",
        CHANNELDESK_OFFLINE_CHANNEL_API_KEY="key",
    )
    result = cli("run", "fetch-orders", "--profile", "offline", env=env)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "fetch-orders failed" in lines[0]
    assert "Omnitron did not answer for" in lines[0]
    assert "the run stopped; nothing was lost — run it again when Omnitron is back." in lines[0]
    assert "secret" not in result.stderr


def test_missing_secret_exits_2_naming_the_variable(tmp_path: Path) -> None:
    config = tmp_path / "profiles.toml"
    config.write_text(
        '[profiles.acme.omnitron]\nurl = "http://127.0.0.1:1/"\nusername = "u"\n'
        "channel_id = 1\ncatalog_id = 1\n",
        encoding="utf-8",
    )
    # No keyring in the child: the secret can come from the environment only.
    env = _env(
        tmp_path,
        CHANNELDESK_CONFIG=str(config),
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
    )
    result = cli("run", "fetch-orders", "--profile", "acme", env=env)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "CHANNELDESK_ACME_OMNITRON_PASSWORD" in lines[0]


def test_help_names_every_command(tmp_path: Path) -> None:
    result = cli("--help", env=_env(tmp_path))
    assert result.returncode == 0
    for command in ("run", "runs", "batches", "errors", "sandbox"):
        assert command in result.stdout


def test_run_rejects_an_unknown_flow(tmp_path: Path) -> None:
    result = cli("run", "fetch-everything", env=_env(tmp_path))
    assert result.returncode == 2
    assert Flow.FETCH_ORDERS.value in result.stderr


def _plain_http_profile(tmp_path: Path, allowed: bool) -> dict[str, str]:
    """An env whose profile 'acme' talks plain http:// to another host (no keyring)."""
    config = tmp_path / "profiles.toml"
    config.write_text(
        f"[profiles.acme]\nallow_insecure_http = {str(allowed).lower()}\n"
        '[profiles.acme.omnitron]\nurl = "http://omnitron.acme.invalid/"\nusername = "u"\n'
        "channel_id = 1\ncatalog_id = 1\n",
        encoding="utf-8",
    )
    return _env(
        tmp_path,
        CHANNELDESK_CONFIG=str(config),
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
    )


def test_plain_http_to_another_host_is_refused_in_one_line(tmp_path: Path) -> None:
    result = cli(
        "run", "fetch-orders", "--profile", "acme", env=_plain_http_profile(tmp_path, False)
    )
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].endswith(
        "profile 'acme': field 'omnitron': Omnitron URL http://omnitron.acme.invalid/ is not "
        "encrypted and not on this computer; use https://, or set allow_insecure_http = true "
        "in the profile if this network is trusted"
    )


def test_allowed_plain_http_is_warned_on_stderr(tmp_path: Path) -> None:
    result = cli(
        "run", "fetch-orders", "--profile", "acme", env=_plain_http_profile(tmp_path, True)
    )
    # The warning comes first; then the run stops at the missing secret, as usual.
    assert result.returncode == 2
    warning, error = result.stderr.splitlines()
    assert warning == (
        "warning: profile 'acme': Omnitron URL http://omnitron.acme.invalid/ is not encrypted "
        "(allow_insecure_http = true): the password, the token and customer data cross the "
        "network readable"
    )
    assert "CHANNELDESK_ACME_OMNITRON_PASSWORD" in error


def test_everything_a_run_writes_is_private(sandbox_run: SandboxRun) -> None:
    """Stores, their WAL files and the simulators' state: this user's only."""
    made = sorted(sandbox_run.data_dir.rglob("*"))
    assert any(p.name.endswith(".sqlite3") for p in made)
    assert (sandbox_run.data_dir / "sandbox").is_dir()
    modes = {p.relative_to(sandbox_run.data_dir): p.stat().st_mode & 0o777 for p in made}
    wrong = {
        path: oct(mode)
        for path, mode in modes.items()
        if mode != (0o700 if (sandbox_run.data_dir / path).is_dir() else 0o600)
    }
    assert wrong == {}

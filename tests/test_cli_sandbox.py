"""``python main.py sandbox`` serves both simulators until interrupted."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from service.paths import PROJECT_ROOT

_URL = re.compile(r"(Omnitron|Marketplace) simulator:\s+(http://127\.0\.0\.1:\d+/)")


def _start(*args: str) -> tuple[subprocess.Popen[str], dict[str, str]]:
    process = subprocess.Popen(
        [sys.executable, str(PROJECT_ROOT / "main.py"), "sandbox", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    urls: dict[str, str] = {}
    while len(urls) < 2:
        line = process.stdout.readline()
        assert line, f"sandbox exited early: {process.stderr.read() if process.stderr else ''}"
        if match := _URL.search(line):
            urls[match[1]] = match[2]
    return process, urls


def test_sandbox_command_serves_both_simulators_until_interrupted(tmp_path: Path) -> None:
    process, urls = _start("--orders", "3", "--data-dir", str(tmp_path), "--latency-ms", "5")
    try:
        login = httpx.post(
            urls["Omnitron"] + "api/v1/auth/login/",
            json={"username": "sandbox", "password": "sandbox"},
        )
        assert login.status_code == 200
        assert login.json()["key"]
        faults = httpx.get(urls["Marketplace"] + "_sandbox/faults").json()
        assert faults["latency_ms"] == 5
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    assert (tmp_path / "omnitron.sqlite3").exists()
    assert (tmp_path / "marketplace.sqlite3").exists()


def test_sandbox_command_rejects_a_bad_error_rate() -> None:
    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "main.py"), "sandbox", "--error-rate", "2"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "2 is not between 0 and 1" in result.stderr

"""``main.py`` processes a test or benchmark starts in the background, and stops."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from service.paths import PROJECT_ROOT

MAIN = (sys.executable, str(PROJECT_ROOT / "main.py"))


def start_main(*args: str, env: Mapping[str, str], log: Path) -> subprocess.Popen[str]:
    """``main.py ARGS`` in the background, its stdout and stderr in the file ``log``."""
    with log.open("w", encoding="utf-8") as out:
        return subprocess.Popen(
            [*MAIN, *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            env=dict(env),
            cwd=PROJECT_ROOT,
        )


def stop(processes: Iterable[subprocess.Popen[str]], timeout_s: float = 30) -> None:
    """Ask each process still running to stop (SIGTERM), then kill what has not within
    ``timeout_s`` — a worker finishes its running flows first."""
    running = [process for process in processes if process.poll() is None]
    for process in running:
        process.terminate()
    for process in running:
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

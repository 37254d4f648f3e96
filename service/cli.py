"""Command-line interface: dispatches ``python main.py COMMAND`` to its handler."""

from __future__ import annotations

import argparse
import threading
from collections.abc import Sequence
from pathlib import Path

from service.sandbox.launcher import Sandbox, SandboxOptions


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="main.py",
        description="ChannelDesk: order flows between a sales channel and Akinon Omnitron.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    sandbox = commands.add_parser(
        "sandbox",
        help="serve the Omnitron and marketplace simulators on 127.0.0.1 until Ctrl-C",
        description="Serve the Omnitron and marketplace simulators on 127.0.0.1 until Ctrl-C.",
    )
    sandbox.add_argument("--omnitron-port", type=int, default=0, metavar="P", help="0: any free")
    sandbox.add_argument("--channel-port", type=int, default=0, metavar="Q", help="0: any free")
    sandbox.add_argument(
        "--data-dir", type=Path, metavar="D", help="keep simulator state here across restarts"
    )
    sandbox.add_argument("--seed", type=int, default=0, metavar="S", help="deterministic data")
    sandbox.add_argument(
        "--orders", type=int, default=40, metavar="N", help="marketplace orders waiting at start"
    )
    sandbox.add_argument(
        "--latency-ms", type=int, default=0, metavar="L", help="added to every request"
    )
    sandbox.add_argument(
        "--error-rate", type=_share, default=0.0, metavar="R", help="share of requests failing 5xx"
    )
    sandbox.set_defaults(handler=_run_sandbox)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return args.handler(args)


def _share(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 1")
    return value


def _run_sandbox(args: argparse.Namespace) -> int:
    options = SandboxOptions(
        omnitron_port=args.omnitron_port,
        channel_port=args.channel_port,
        data_dir=args.data_dir,
        seed=args.seed,
        orders=args.orders,
        latency_ms=args.latency_ms,
        error_rate=args.error_rate,
    )
    with Sandbox(options) as sandbox:
        omnitron = sandbox.omnitron.config
        channel = sandbox.marketplace.config
        print(f"Omnitron simulator:    {sandbox.omnitron_url}api/v1/", flush=True)
        print(f"  user {omnitron.username!r}, password {omnitron.password!r}", flush=True)
        print(f"  channel {omnitron.channel_id}, catalog {omnitron.catalog_id}", flush=True)
        print(f"Marketplace simulator: {sandbox.channel_url}", flush=True)
        print(f"  API key {channel.api_key!r} (header X-Api-Key)", flush=True)
        print("Control API under /_sandbox/ on both; API docs at /docs. Ctrl-C stops.", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("Stopping.", flush=True)
    return 0

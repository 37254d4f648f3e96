"""Command-line interface: dispatches ``python main.py COMMAND`` to its handler.

Exit codes: 0 done (a run with per-order failures is done), 1 a run could not run
(Omnitron unreachable, login refused, ...), 2 bad usage, profile or configuration,
130 interrupted with Ctrl-C.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from service.causes import Cause
from service.cli_fleet import (
    FleetUnavailable,
    add_beat,
    add_worker,
    configure_worker_logging,
    remote_runner,
    run_beat,
    run_worker,
)
from service.cli_mirror import add_mirror, mirror_profile
from service.cli_output import (
    BarAwareHandler,
    Column,
    ProgressBar,
    dump_json,
    render_table,
    result_json,
    result_text,
)
from service.config import (
    SANDBOX,
    Profile,
    ProfileError,
    Secrets,
    config_path,
    insecure_http_warnings,
    load_profile,
)
from service.connect import ENV_CONFIG, ENV_DATA_DIR, Locations, connect, open_store
from service.flows.context import FlowEvent, RunContext
from service.flows.lease import LeaseBusy
from service.flows.names import Flow
from service.flows.outcome import describe_outcome, outcome_key
from service.flows.parking import age_text, parked_json
from service.flows.result import FlowResult, RunOutcome
from service.flows.retry import NothingToRetry
from service.flows.run import FlowOptions
from service.omnitron.errors import OmnitronError
from service.omnitron.models.batch import BatchStatus
from service.order_service import OrderService
from service.sandbox.launcher import Sandbox, SandboxOptions
from service.store import (
    BatchMirror,
    ErrorQuery,
    OutboxCounts,
    RecordNotFound,
    RunRecord,
    StoredErrorReport,
)
from service.store_errors import StoreError, private_umask

FLOW_NAMES = [flow.value for flow in Flow]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class _Interrupted(Exception):
    """Ctrl-C stopped a run; the run itself ended cooperatively."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    # The global options are accepted before and after the command name; SUPPRESS
    # keeps a subcommand's unset option from overwriting one given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        dest="data_root",
        type=Path,
        default=argparse.SUPPRESS,
        metavar="DIR",
        help=f"local stores and sandbox state (env {ENV_DATA_DIR}; default: user data dir)",
    )
    common.add_argument(
        "--config",
        dest="config_file",
        type=Path,
        default=argparse.SUPPRESS,
        metavar="FILE",
        help=f"profiles file (env {ENV_CONFIG}; default: {config_path()})",
    )
    common.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=argparse.SUPPRESS,
        help="log run events to stderr (-vv: also HTTP requests and debug detail)",
    )
    parser = argparse.ArgumentParser(
        prog="main.py",
        description="ChannelDesk: order flows between a sales channel and Akinon Omnitron.",
        parents=[common],
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_run(commands, common)
    _add_retry(commands, common)
    _add_runs(commands, common)
    _add_batches(commands, common)
    _add_errors(commands, common)
    _add_parked(commands, common)
    _add_sandbox(commands)
    add_worker(commands, common, _worker)
    add_beat(commands, common, _beat)
    add_mirror(commands, common, _mirror)
    return parser


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command; returns the process exit code.

    ``environ`` (default: the process environment) supplies ``CHANNELDESK_DATA_DIR``
    and ``CHANNELDESK_CONFIG``; nothing below this function reads the environment
    except profile secrets.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    args.environ = os.environ if environ is None else environ
    try:
        # Everything the command creates (stores, simulator state) is this user's only.
        with private_umask():
            return args.handler(args)
    except StoreError as exc:
        # The store's file or directory is unusable: one line naming it, and what to do.
        _error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        # Ctrl-C before a run started (e.g. while the sandbox was starting).
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of stdout went away (``| head``); silence the flush at exit too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED


# -- parsers -------------------------------------------------------------------------


def _profile_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--profile",
        default=SANDBOX,
        metavar="NAME",
        help=f"profile to use (default: {SANDBOX}, the built-in simulators)",
    )


def _json_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("--json", action="store_true", help=help_text)


def _add_run(commands: Any, common: argparse.ArgumentParser) -> None:
    run = commands.add_parser(
        "run",
        parents=[common],
        help="run one flow headless and print what it did",
        description="Run one flow to its end and print what it did. The sandbox profile "
        "starts both simulators in-process; their state persists in the data directory.",
    )
    run.add_argument(
        "flow",
        choices=FLOW_NAMES,
        metavar="FLOW",
        help="one of: " + ", ".join(FLOW_NAMES),
    )
    _profile_option(run)
    mode = run.add_mutually_exclusive_group()
    mode.add_argument(
        "--sync", dest="is_sync", action="store_true", default=None, help="send updates one by one"
    )
    mode.add_argument(
        "--async", dest="is_sync", action="store_false", help="send updates as a remote batch"
    )
    run.add_argument(
        "--with-items", action="store_true", help="include order items in order updates"
    )
    run.add_argument(
        "--no-success-log",
        action="store_true",
        help="report failures only (default: the profile's is_success_log)",
    )
    run.add_argument(
        "--wait",
        action="store_true",
        help="when another run of the flow (or of one committing the same batches) is "
        "running, wait for it instead of exiting 1",
    )
    run.add_argument(
        "--here",
        action="store_true",
        help='on a runner = "workers" profile: run in this process, not on the workers',
    )
    _json_option(run, "print one JSON object with the run's result on stdout")
    run.set_defaults(handler=_run_flow)


def _add_retry(commands: Any, common: argparse.ArgumentParser) -> None:
    retry = commands.add_parser(
        "retry",
        parents=[common],
        help="retry failed items (one problem, or some error reports) and print what it did",
        description="Retry the items open failure reports are about, through the same path "
        "as a run of their flow, recorded as a run of that flow on its own batch request. "
        "Items that go through resolve their reports.",
    )
    _profile_option(retry)
    retry.add_argument(
        "--cause", choices=[cause.value for cause in Cause], metavar="C", help="one cause"
    )
    retry.add_argument("--value", metavar="V", help="with --cause: only the problem of this value")
    retry.add_argument(
        "--report",
        dest="report_ids",
        type=_positive,
        action="append",
        metavar="ID",
        help="an error report's id (repeatable)",
    )
    retry.add_argument(
        "--no-success-log",
        action="store_true",
        help="report failures only (default: the profile's is_success_log)",
    )
    retry.add_argument(
        "--wait", action="store_true", help="wait for a run of the flow that is running"
    )
    _json_option(retry, "print one JSON object with the run's result on stdout")
    retry.set_defaults(handler=_retry)


def _add_runs(commands: Any, common: argparse.ArgumentParser) -> None:
    runs = commands.add_parser("runs", parents=[common], help="list recorded runs, newest first")
    _profile_option(runs)
    runs.add_argument("--flow", choices=FLOW_NAMES, metavar="FLOW", help="only this flow")
    runs.add_argument("--limit", type=_positive, default=20, metavar="N", help="default 20")
    _json_option(runs, "print a JSON array")
    runs.set_defaults(handler=_list_runs)


def _add_batches(commands: Any, common: argparse.ArgumentParser) -> None:
    batches = commands.add_parser(
        "batches", parents=[common], help="list batch requests, newest first"
    )
    _profile_option(batches)
    batches.add_argument(
        "--status",
        dest="statuses",
        action="append",
        choices=[status.value for status in BatchStatus],
        metavar="S",
        help="only this status (repeatable): " + ", ".join(status.value for status in BatchStatus),
    )
    batches.add_argument("--flow", choices=FLOW_NAMES, metavar="FLOW", help="only this flow")
    batches.add_argument("--limit", type=_positive, default=50, metavar="N", help="default 50")
    _json_option(batches, "print a JSON array")
    batches.set_defaults(handler=_list_batches)


def _add_errors(commands: Any, common: argparse.ArgumentParser) -> None:
    errors = commands.add_parser(
        "errors", parents=[common], help="list error reports, newest first"
    )
    _profile_option(errors)
    errors.add_argument(
        "--search",
        metavar="TEXT",
        help="words in code, description, subject or the raw request/response values "
        "(not JSON keys)",
    )
    shown = errors.add_mutually_exclusive_group()
    shown.add_argument(
        "--status",
        choices=["ok", "fail"],
        help="ok: success reports only, fail: failures (the default)",
    )
    shown.add_argument("--all", action="store_true", help="failures and successes")
    errors.add_argument(
        "--cause", choices=[cause.value for cause in Cause], metavar="C", help="only this cause"
    )
    errors.add_argument("--flow", choices=FLOW_NAMES, metavar="FLOW", help="only this flow")
    errors.add_argument("--run", dest="run_id", type=_positive, metavar="ID", help="only this run")
    errors.add_argument("--limit", type=_positive, default=50, metavar="N", help="default 50")
    errors.add_argument(
        "--outbox",
        action="store_true",
        help="only reports not in Omnitron: waiting in the outbox, or refused (with the answer)",
    )
    _json_option(errors, "print a JSON array (with the raw request and response)")
    errors.set_defaults(handler=_list_errors)


def _add_parked(commands: Any, common: argparse.ArgumentParser) -> None:
    parked = commands.add_parser(
        "parked",
        parents=[common],
        help="list channel records waiting for their order in Omnitron, oldest first",
    )
    _profile_option(parked)
    parked.add_argument("--flow", choices=FLOW_NAMES, metavar="FLOW", help="only this flow")
    parked.add_argument("--limit", type=_positive, default=100, metavar="N", help="default 100")
    _json_option(parked, "print a JSON array (with each record and its age in seconds)")
    parked.set_defaults(handler=_list_parked)


def _add_sandbox(commands: Any) -> None:
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


def _share(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 1")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


# -- shared plumbing -----------------------------------------------------------------


def _locations(args: argparse.Namespace) -> Locations:
    """Option, then environment variable, then the platform default."""
    return Locations.resolve(
        getattr(args, "data_root", None), getattr(args, "config_file", None), args.environ
    )


def _load_profile(args: argparse.Namespace, locations: Locations) -> Profile:
    return load_profile(args.profile, path=locations.config_file)


def _error(message: str) -> None:
    """One line on stderr; messages from deeper layers are folded onto it."""
    print("error: " + " ".join(message.split()), file=sys.stderr, flush=True)


def _configure_logging(verbosity: int) -> BarAwareHandler:
    """Log to stderr: errors only by default, run events with -v, everything with -vv."""
    handler = BarAwareHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", "%H:%M:%S"))
    handler.addFilter(_not_store_errors)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    level = {0: logging.ERROR, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    root.setLevel(level)
    # One line per HTTP request drowns the run's own events; only -vv shows them.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbosity >= 2 else logging.WARNING)
    return handler


def _not_store_errors(record: logging.LogRecord) -> bool:
    """Drop log records about an unusable store: main() says it once, in one line."""
    return not (record.exc_info and isinstance(record.exc_info[1], StoreError))


# -- run -----------------------------------------------------------------------------


def _options(args: argparse.Namespace, profile: Profile, **flags: bool) -> FlowOptions:
    """A run's options from the profile and the command line (``run`` and ``retry``)."""
    return FlowOptions(
        is_success_log=profile.is_success_log and not args.no_success_log,
        workers=profile.workers,
        lease_wait_s=None if args.wait else 0.0,
        **flags,
    )


def _profile_for_run(args: argparse.Namespace, locations: Locations) -> Profile | None:
    """The profile to run on, its warnings said; ``None`` (and why, said) when unusable."""
    try:
        profile = _load_profile(args, locations)
    except ProfileError as exc:
        _error(str(exc))
        return None
    for warning in insecure_http_warnings(profile):
        # Allowed by the profile, said on every run so it never goes unnoticed.
        print(f"warning: {warning}", file=sys.stderr, flush=True)
    return profile


def _run_flow(args: argparse.Namespace) -> int:
    handler = _configure_logging(getattr(args, "verbose", 0) or 0)
    locations = _locations(args)
    flow = Flow(args.flow)
    profile = _profile_for_run(args, locations)
    if profile is None:
        return EXIT_USAGE

    options = _options(
        args,
        profile,
        is_sync=True if args.is_sync is None else args.is_sync,
        add_order_items=args.with_items,
    )
    if profile.runner == "workers" and not args.here:
        return _drive_remote(args, profile, handler, flow, options)
    return _drive(
        args,
        profile,
        locations,
        handler,
        flow.value,
        lambda service, ctx: service.run(flow, options, ctx),
    )


def _drive(
    args: argparse.Namespace,
    profile: Profile,
    locations: Locations,
    handler: BarAwareHandler,
    label: str,
    start: Callable[[OrderService, RunContext], FlowResult],
) -> int:
    """Connect, run ``start(service, ctx)`` interruptibly, print its result; the exit code."""
    bar = ProgressBar(sys.stderr, label) if sys.stderr.isatty() else None
    ctx = RunContext()
    if bar is not None:
        ctx.on_progress = bar.update
        handler.bar = bar
    if args.wait:
        ctx.on_event = _showing_waits(ctx.on_event, _noticer(bar))
    interrupted = False
    try:
        secrets = Secrets(env=args.environ)
        with connect(profile, locations, secrets=secrets, environ=args.environ) as connection:
            service = connection.order_service()
            try:
                result = _run_interruptibly(lambda: start(service, ctx), ctx, notice=_noticer(bar))
            except _Interrupted as stop:
                interrupted = True
                result = stop.args[0]
            except LeaseBusy as busy:
                # Another live run owns the flow: nothing was started, recorded or sent.
                _error(str(busy))
                return EXIT_INTERRUPTED if busy.cancelled else EXIT_FAILED
            except NothingToRetry as nothing:
                _error(str(nothing))
                return EXIT_FAILED
            except (ValueError, RecordNotFound) as bad:
                # Reports of several flows, or an id the store does not hold.
                _error(str(bad).strip("'\""))
                return EXIT_USAGE
            # Said after the run, so reports waiting for Omnitron are seen without -v.
            outbox = connection.store.outbox_counts()
    except ProfileError as exc:
        _error(str(exc))
        return EXIT_USAGE
    except OSError as exc:
        # The sandbox could not bind a port or write its state, the store its file.
        _error(f"{label} could not start: {exc}")
        return EXIT_FAILED
    finally:
        if bar is not None:
            bar.close()
            handler.bar = None
    return _report_result(result, profile, args.json, interrupted=interrupted, outbox=outbox)


def _drive_remote(
    args: argparse.Namespace,
    profile: Profile,
    handler: BarAwareHandler,
    flow: Flow,
    options: FlowOptions,
) -> int:
    """Send ``flow`` to the profile's workers and follow it like a local run (Ctrl-C
    cancels the remote run); the exit code."""
    try:
        runner = remote_runner(profile, args.environ)
    except (FleetUnavailable, ProfileError) as exc:
        _error(str(exc))
        return EXIT_USAGE
    # Importable now: the workers extra is installed.
    from service.fleet.client import RemoteRefused

    bar = ProgressBar(sys.stderr, flow.value) if sys.stderr.isatty() else None
    ctx = RunContext()
    notice = _noticer(bar)
    if bar is not None:
        ctx.on_progress = bar.update
        handler.bar = bar
    # Why nothing moves (queued, no worker; waiting for a lease) is said without -v.
    ctx.on_event = _showing_remote_waits(ctx.on_event, notice)
    interrupted = False
    try:
        result = _run_interruptibly(lambda: runner.run(flow, options, ctx), ctx, notice=notice)
    except _Interrupted as stop:
        interrupted = True
        result = stop.args[0]
    except RemoteRefused as refused:
        _error(str(refused))
        return EXIT_INTERRUPTED if ctx.cancel.cancelled else EXIT_FAILED
    finally:
        runner.client.close()
        if bar is not None:
            bar.close()
            handler.bar = None
    return _report_result(result, profile, args.json, interrupted=interrupted)


def _showing_remote_waits(
    on_event: Callable[[FlowEvent], None], notice: Callable[[str], None]
) -> Callable[[FlowEvent], None]:
    """``on_event`` that also says when a remote run is queued without a worker or waits."""

    def show(event: FlowEvent) -> None:
        if event.kind in ("remote.queued", "remote.unreachable", "run.waiting"):
            notice(event.message)
        on_event(event)

    return show


def _worker(args: argparse.Namespace) -> int:
    configure_worker_logging(getattr(args, "verbose", 0) or 0)
    try:
        run_worker(args.profiles, args.concurrency, _locations(args), args.environ)
    except (FleetUnavailable, ProfileError) as exc:
        _error(str(exc))
        return EXIT_USAGE
    return EXIT_OK


def _beat(args: argparse.Namespace) -> int:
    configure_worker_logging(getattr(args, "verbose", 0) or 0)
    try:
        run_beat(args.profiles, _locations(args), args.environ)
    except (FleetUnavailable, ProfileError) as exc:
        _error(str(exc))
        return EXIT_USAGE
    return EXIT_OK


def _mirror(args: argparse.Namespace) -> int:
    _configure_logging(getattr(args, "verbose", 0) or 0)
    try:
        result = mirror_profile(args.profile, _locations(args), args.environ)
    except ProfileError as exc:
        _error(str(exc))
        return EXIT_USAGE
    except OmnitronError as exc:
        _error(f"could not read Omnitron: {exc}")
        return EXIT_FAILED
    if args.json:
        dump_json(result.to_json(), sys.stdout)
    else:
        print(result.summary, flush=True)
    return EXIT_OK


def _retry(args: argparse.Namespace) -> int:
    handler = _configure_logging(getattr(args, "verbose", 0) or 0)
    locations = _locations(args)
    if args.value is not None and args.cause is None:
        _error("--value needs --cause")
        return EXIT_USAGE
    if args.cause is None and not args.report_ids:
        _error("say what to retry: --cause C [--value V] or --report ID ...")
        return EXIT_USAGE
    profile = _profile_for_run(args, locations)
    if profile is None:
        return EXIT_USAGE
    options = _options(args, profile)
    return _drive(
        args,
        profile,
        locations,
        handler,
        "retry",
        lambda service, ctx: service.retry(
            report_ids=args.report_ids or (),
            cause=args.cause,
            cause_value=args.value,
            ctx=ctx,
            options=options,
        ),
    )


def _showing_waits(
    on_event: Callable[[FlowEvent], None], notice: Callable[[str], None]
) -> Callable[[FlowEvent], None]:
    """``on_event`` that also tells the operator, in one line, that the run waits."""

    def show(event: FlowEvent) -> None:
        if event.kind == "run.waiting":
            notice(event.message)
        on_event(event)

    return show


def _noticer(bar: ProgressBar | None) -> Callable[[str], None]:
    """Print a line for the operator on stderr, above the progress bar if there is one."""
    if bar is not None:
        return bar.write_line
    return lambda text: print(text, file=sys.stderr, flush=True)


def _run_interruptibly(
    run: Callable[[], FlowResult], ctx: RunContext, *, notice: Callable[[str], None]
) -> FlowResult:
    """Run in a worker thread so Ctrl-C reaches this one and can cancel cooperatively.

    The first Ctrl-C asks the flow to stop at its next safe point and waits for it
    (then :class:`_Interrupted` carries the result); a second one quits at once and
    leaves open batches for the next run to recover.
    """
    outcome: dict[str, Any] = {}
    finished = threading.Event()

    def target() -> None:
        try:
            outcome["result"] = run()
        except BaseException as exc:  # handed to the main thread, re-raised there
            outcome["error"] = exc
        finally:
            finished.set()

    threading.Thread(target=target, name="flow-run", daemon=True).start()
    interrupted = False
    # An Event, not Thread.join: in Python 3.11 a Ctrl-C landing inside join() can
    # mark a still-running thread as stopped, and we would close its store under it.
    while not finished.is_set():
        try:
            finished.wait(0.2)
        except KeyboardInterrupt:
            if interrupted:
                _error("interrupted again: quitting without waiting for the run to stop")
                os._exit(EXIT_INTERRUPTED)
            interrupted = True
            ctx.cancel.cancel()
            notice("Stopping at the next safe point (Ctrl-C again quits at once).")
    if "error" in outcome:
        raise outcome["error"]
    if interrupted:
        raise _Interrupted(outcome["result"])
    return outcome["result"]


def _report_result(
    result: FlowResult,
    profile: Profile,
    as_json: bool,
    *,
    interrupted: bool,
    outbox: OutboxCounts | None = None,
) -> int:
    if as_json:
        dump_json(result_json(result, profile.name), sys.stdout)
    if result.outcome in (RunOutcome.FAILED, RunOutcome.INTERRUPTED):
        _error(f"{result.flow.value} {result.outcome.value}: {result.message or 'no reason given'}")
        return EXIT_INTERRUPTED if interrupted else EXIT_FAILED
    if not as_json:
        print("\n".join(result_text(result, profile.name, outbox)), flush=True)
    if interrupted or result.outcome is RunOutcome.CANCELLED:
        return EXIT_INTERRUPTED
    return EXIT_OK


# -- listings ------------------------------------------------------------------------


def _listing(
    args: argparse.Namespace,
    fetch: Callable[[Any], list[Any]],
    columns: list[Column],
    as_json: Callable[[Any], dict[str, Any]],
) -> int:
    """Open the profile's store, fetch rows, print them as a table or a JSON array."""
    _configure_logging(getattr(args, "verbose", 0) or 0)
    locations = _locations(args)
    try:
        profile = _load_profile(args, locations)
    except ProfileError as exc:
        _error(str(exc))
        return EXIT_USAGE
    try:
        with open_store(profile, locations) as store:
            rows = fetch(store)
    except OSError as exc:
        _error(f"cannot open the store of profile {profile.name!r}: {exc}")
        return EXIT_FAILED
    if args.json:
        dump_json([as_json(row) for row in rows], sys.stdout)
    else:
        print(render_table(columns, rows), flush=True)
    return EXIT_OK


RUN_COLUMNS = [
    Column("ID", lambda r: r.id, right=True),
    Column("FLOW", lambda r: r.flow),
    Column("STARTED", lambda r: r.started_at),
    Column("OUTCOME", lambda r: describe_outcome(r).label),
    Column("CREATED", lambda r: r.created, right=True),
    Column("UPDATED", lambda r: r.updated, right=True),
    Column("SKIPPED", lambda r: r.skipped, right=True),
    Column("FAILED", lambda r: r.failed, right=True),
    Column("ERRORS", lambda r: r.error_count, right=True),
    Column("SECONDS", lambda r: r.duration_s, right=True),
    # The process that ran it: a worker's runs name their machine.
    Column("HOST", lambda r: r.host),
    Column("PID", lambda r: r.pid, right=True),
    Column("MESSAGE", lambda r: r.message, max_width=60),
]

BATCH_COLUMNS = [
    Column("PK", lambda b: b.pk, right=True),
    Column("LOCAL ID", lambda b: b.local_batch_id),
    Column("STATUS", lambda b: b.status),
    Column("TYPE", lambda b: b.content_type),
    Column("FLOW", lambda b: b.flow),
    Column("RUN", lambda b: b.run_id, right=True),
    Column("OBJECTS", lambda b: b.object_count, right=True),
    Column("FAILED", lambda b: b.failed_count, right=True),
    Column("CREATED", lambda b: b.created_at),
    Column("CHANGED", lambda b: b.last_transition_at),
    # remote: mirrored from Omnitron, written by another deployment.
    Column("ORIGIN", lambda b: b.origin),
]

ERROR_COLUMNS = [
    Column("ID", lambda e: e.id, right=True),
    Column("CREATED", lambda e: e.created_at),
    Column("OK", lambda e: "ok" if e.is_ok else "fail"),
    Column("FLOW", lambda e: e.flow),
    Column("RUN", lambda e: e.run_id, right=True),
    Column("SEEN", lambda e: e.attempts, right=True),
    Column("SUBJECT", lambda e: e.subject, max_width=24),
    Column("CAUSE", lambda e: e.cause),
    Column("RESOLVED", lambda e: "yes" if e.resolved_at is not None else ""),
    Column("ORIGIN", lambda e: e.origin),
    Column("DESCRIPTION", lambda e: e.description, max_width=90),
]

OUTBOX_COLUMNS = [
    Column("ID", lambda e: e.id, right=True),
    Column("CREATED", lambda e: e.created_at),
    Column("STATE", lambda e: e.delivery_state),
    Column("FLOW", lambda e: e.flow),
    Column("RUN", lambda e: e.run_id, right=True),
    Column("DESCRIPTION", lambda e: e.description, max_width=50),
    Column("OMNITRON'S ANSWER", lambda e: e.delivery_error, max_width=80),
]


def _run_json(run: RunRecord) -> dict[str, Any]:
    # The same outcome names as `run --json` (completed_with_failures is derived).
    return {**run.model_dump(mode="json"), "outcome": outcome_key(run.outcome, run.failed)}


def _batch_json(batch: BatchMirror) -> dict[str, Any]:
    # Objects can run to thousands; the listing carries their counts.
    data = batch.model_dump(mode="json", exclude={"objects"})
    data["object_count"] = batch.object_count
    data["failed_count"] = batch.failed_count
    return data


def _error_json(report: StoredErrorReport) -> dict[str, Any]:
    data = report.model_dump(mode="json")
    data["resolved"] = report.resolved_at is not None
    return data


def _list_runs(args: argparse.Namespace) -> int:
    flow = args.flow
    return _listing(
        args, lambda store: store.list_runs(flow=flow, limit=args.limit), RUN_COLUMNS, _run_json
    )


def _list_batches(args: argparse.Namespace) -> int:
    def fetch(store: Any) -> list[BatchMirror]:
        return store.list_batches(
            statuses=args.statuses or None,
            flow=args.flow,
            limit=args.limit,
        )

    return _listing(args, fetch, BATCH_COLUMNS, _batch_json)


def _list_errors(args: argparse.Namespace) -> int:
    # Failures by default: successes are shown on request (--status ok, --all).
    status = args.status or ("fail" if not args.all else None)
    query = ErrorQuery(
        text=args.search or None,
        is_ok=None if status is None else status == "ok",
        cause=args.cause,
        flow=args.flow,
        run_id=args.run_id,
        delivery="undelivered" if args.outbox else None,
        limit=args.limit,
    )
    columns = OUTBOX_COLUMNS if args.outbox else ERROR_COLUMNS
    return _listing(args, lambda store: store.search_error_reports(query), columns, _error_json)


# -- parked records ------------------------------------------------------------------

PARKED_COLUMNS = [
    Column("FLOW", lambda p: p.flow),
    Column("SUBJECT", lambda p: p.subject, max_width=24),
    Column("KEY", lambda p: p.remote_id, max_width=24),
    Column("AGE", lambda p: age_text(p.first_seen_at), right=True),
    Column("ATTEMPTS", lambda p: p.attempts, right=True),
    Column("LAST TRIED", lambda p: p.last_seen_at),
    Column("REASON", lambda p: p.reason, max_width=90),
]


def _list_parked(args: argparse.Namespace) -> int:
    flow = args.flow
    return _listing(
        args,
        lambda store: store.parked(flow, limit=args.limit),
        PARKED_COLUMNS,
        parked_json,
    )


# -- sandbox -------------------------------------------------------------------------


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
        # The root URL, as a profile's omnitron.url wants it; the API is under api/v1/.
        print(f"Omnitron simulator:    {sandbox.omnitron_url} (API under api/v1/)", flush=True)
        print(f"  user {omnitron.username!r}, password {omnitron.password!r}", flush=True)
        print(f"  channel {omnitron.channel_id}, catalog {omnitron.catalog_id}", flush=True)
        print(f"Marketplace simulator: {sandbox.channel_url}", flush=True)
        print(f"  API key {channel.api_key!r} (header X-Api-Key)", flush=True)
        print("Control API under /_sandbox/ on both; API docs at /docs. Ctrl-C stops.", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("Stopping.", flush=True)
    return EXIT_OK

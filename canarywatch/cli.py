"""Command line: parse, load config, call the pipeline. Nothing else lives here.

Exit codes: 0 no rollback, 3 at least one canary should roll back, 2 bad usage, config or
input (including inputs with no telemetry and unknown versions), 1 a bug, 130 interrupted
(Ctrl-C; replay prints what was decided so far, marked partial). A closed stdout never
changes the exit code; an output that cannot be written (a full disk) exits 2, whatever the
verdict, with ``cannot write output: ...``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import signal
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO, cast

from canarywatch import __version__
from canarywatch import config as config_mod
from canarywatch.cliutil import (
    GuardedOut,
    HelpFormatter,
    check_versions_seen,
    log_level,
    no_telemetry_error,
    output_error,
    progress_for,
    silence_stdout,
    unknown_top_level_option,
    unrecognized_arguments,
)
from canarywatch.config import Config, ServiceCohorts
from canarywatch.errors import CanarywatchError, ConfigError

EXIT_OK = 0
EXIT_BUG = 1
EXIT_USAGE = 2
EXIT_ROLLBACK = 3
EXIT_INTERRUPTED = 130

EXIT_CODES = """exit codes:
  0    no canary should roll back (or the command succeeded)
  1    a bug in canarywatch (please report it with the traceback)
  2    bad usage, config or input: unknown option, bad config key (named), missing file,
       input holding no telemetry, a --baseline/--canary version never seen, an output
       that cannot be written (a full disk; even when the verdict was rollback)
  3    replay: at least one canary should roll back
  130  interrupted (Ctrl-C); replay first prints what was decided so far, marked PARTIAL
A closed stdout (replay ... | head) never changes the exit code."""

log = logging.getLogger(__name__)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse exits 2 on usage errors; keep that
        self.print_usage(sys.stderr)
        sys.stderr.write(f"canarywatch: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def _add_common(p: argparse.ArgumentParser, default_level: str = "WARNING") -> None:
    p.add_argument("--config", type=Path, metavar="FILE",
                   help="YAML config file; CANARYWATCH_* environment variables override it "
                        "(built-in defaults if omitted)")
    p.add_argument("--log-level", type=log_level, default=default_level, metavar="LEVEL",
                   help="DEBUG, INFO, WARNING, ERROR or CRITICAL")


def _add_webhook_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--webhook", action="append", default=[], metavar="URL",
                   help="send every verdict change (continue, promote and rollback) to URL "
                        "with the generic JSON preset (repeatable)")
    p.add_argument("--webhook-secret-file", type=Path, metavar="FILE",
                   help="HMAC-SHA256 secret for X-Canarywatch-Signature on --webhook "
                        "deliveries (needs --webhook)")


def _sub(sub: Any, name: str, help_text: str, **kwargs: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=help_text, description=help_text, formatter_class=HelpFormatter, **kwargs)
    return parser


def _add_kafka_range(p: argparse.ArgumentParser, required: bool) -> None:
    p.add_argument("--kafka", metavar="HOST:PORT[,...]", required=required,
                   help="read this Kafka time range (no consumer group, nothing committed; "
                        "topics and security from the config's kafka section)")
    p.add_argument("--topics", metavar="TOPIC[,...]",
                   help="topics to read (default: the config's spans, logs and extra topics)")
    p.add_argument("--from", dest="time_from", metavar="TIME",
                   help="start of the event-time range: RFC 3339 (2026-11-18T11:05:00Z) or "
                        "Unix seconds")
    p.add_argument("--to", dest="time_to", metavar="TIME", help="end of the range (exclusive)")
    p.add_argument("--timestamp-slack-s", type=float, default=60.0, metavar="S",
                   help="also read records stamped this much before and after the range")


_MAX_TIME_S = 2**63 / 1e9  # Unix nanoseconds fit a signed 64-bit integer until 2262


def parse_time(flag: str, text: str) -> int:
    """``--from``/``--to``: RFC 3339 (no zone means UTC) or Unix seconds, to Unix nanoseconds.

    Raises ConfigError naming ``flag`` when the text is unreadable or the time is before 1970
    or past 2262 (beyond int64 nanoseconds).
    """
    from datetime import datetime, timezone

    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not 0 <= seconds < _MAX_TIME_S:  # also refuses inf and nan
            raise ConfigError(flag, f"out of range: {text!r} (Unix seconds from 0 to "
                                    f"{_MAX_TIME_S:.0f}, or RFC 3339)")
        return int(seconds * 1e9)
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ConfigError(flag, f"cannot read {text!r}: RFC 3339 or Unix seconds") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    nanos = int(dt.timestamp()) * 1_000_000_000 + dt.microsecond * 1000
    if not 0 <= nanos < 2**63:
        raise ConfigError(flag, f"out of range: {text!r} (from 1970 to 2262)")
    return nanos


def _time_range(args: argparse.Namespace) -> tuple[int, int] | None:
    if args.time_from is None and args.time_to is None:
        return None
    if args.time_from is None or args.time_to is None:
        raise ConfigError("--from/--to", "give both --from and --to")
    lo, hi = parse_time("--from", args.time_from), parse_time("--to", args.time_to)
    if hi <= lo:
        raise ConfigError("--to", "must be after --from")
    return lo, hi


def _kafka_range(args: argparse.Namespace, cfg: Config, between: tuple[int, int] | None,
                 ) -> Any:
    from canarywatch.sources.kafka_range import KafkaRange

    if between is None:
        raise ConfigError("--from/--to", "--kafka needs --from and --to")
    topics = [t.strip() for t in args.topics.split(",") if t.strip()] if args.topics else None
    return KafkaRange(cfg.kafka, *between, topics=topics, slack_s=args.timestamp_slack_s)


def _subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found: argparse.ArgumentParser = action.choices[command]
            return found
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="canarywatch", description="Canary analysis from logs and spans.",
                     epilog=EXIT_CODES, formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version=f"canarywatch {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser,
                                metavar="COMMAND")

    replay = _sub(sub, "replay", "replay recorded telemetry and print the verdicts",
                  epilog=EXIT_CODES)
    _add_common(replay)
    replay.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                        help="collector file-exporter files (json/proto, .gz), JSON-lines or "
                             "text logs, directories of them (read recursively; hidden, empty "
                             "and unreadable files are skipped and reported), or - for "
                             "standard input (or --kafka)")
    replay.add_argument("--baseline", metavar="VERSION",
                        help="the baseline version (with --canary); must appear in the input")
    replay.add_argument("--canary", action="append", default=[], metavar="VERSION",
                        help="a canary version (repeatable; with --baseline); must appear in "
                             "the input")
    replay.add_argument("--json", action="store_true",
                        help="NDJSON on stdout: one verdict line per change, then a summary")
    replay.add_argument("--html", type=Path, metavar="FILE",
                        help="also write a self-contained HTML report with plots to FILE")
    replay.add_argument("--deliver", action="store_true",
                        help="really send webhooks (--webhook or actions.webhooks in the "
                             "config); off by default: a replay never calls a router by "
                             "accident")
    replay.add_argument("--state-dir", type=Path, metavar="DIR",
                        help="where the webhook outbox lives with --deliver (default: "
                             "state_dir from the config)")
    replay.add_argument("--models", type=Path, metavar="DIR",
                        help="judge against the learned models in DIR too (overrides "
                             "models.dir): versions with no live baseline, known templates")
    replay.add_argument("--no-progress", action="store_true",
                        help="no progress line on stderr (shown only when it is a terminal)")
    _add_webhook_flags(replay)
    _add_kafka_range(replay, required=False)

    record = _sub(sub, "record", "save a Kafka time range as collector file-exporter files")
    _add_common(record)
    record.add_argument("out_dir", type=Path, metavar="DIR")
    record.add_argument("--gzip", action="store_true", help="gzip-compress the files")
    _add_kafka_range(record, required=True)

    learn = _sub(sub, "learn", "learn each service's baseline from recorded telemetry of "
                               "healthy versions")
    _add_common(learn)
    learn.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                       help="the same inputs as replay: files, directories (or --kafka, or "
                            "--from-state)")
    learn.add_argument("--version", action="append", default=[], dest="versions",
                       metavar="VERSION",
                       help="learn from this version only (repeatable; default: every "
                            "version seen)")
    learn.add_argument("--out", type=Path, default=Path("models"), metavar="DIR",
                       help="where the model files go, one per service")
    learn.add_argument("--update", action="store_true",
                       help="add this history to the models already in --out")
    learn.add_argument("--window-s", type=float, default=60.0, metavar="S",
                       help="window length of the window-to-window statistics")
    learn.add_argument("--from-state", type=Path, metavar="STATE_DIR",
                       help="export the rolling history a daemon keeps in STATE_DIR (its "
                            "baselines and promoted canaries; readable while it runs)")
    _add_kafka_range(learn, required=False)

    templates = _sub(sub, "templates", "show how log lines are grouped into templates")
    _add_common(templates)
    templates.add_argument("files", nargs="+", type=Path, metavar="FILE",
                           help="log files (plain or gzip); - reads standard input")
    templates.add_argument("--json", action="store_true",
                           help="one JSON object per record instead of the table")
    templates.add_argument("--per-file", action="store_true",
                           help="one table per file (template ids shared by all files)")

    check = _sub(sub, "check-config",
                 "validate a config file with the CANARYWATCH_* environment applied, as "
                 "every other command reads it")
    check.add_argument("file", type=Path, nargs="?", metavar="FILE",
                       help="YAML config file (omitted: defaults plus the environment)")
    check.add_argument("--print", action="store_true", dest="print_config",
                       help="print the effective config (file + environment) as YAML")

    _sub(sub, "default-config", "print the default config as commented YAML")

    probe = _sub(sub, "probe", "exit 0 if the local daemon's /healthz (or /readyz) answers "
                               "200 on the configured server.listen port, else 1 (the "
                               "container health check)")
    _add_common(probe)
    probe.add_argument("--ready", action="store_true", help="probe /readyz instead of /healthz")

    run = _sub(sub, "run", "run the daemon: consume Kafka, serve verdicts",
               epilog="exit codes: 0 after SIGTERM/SIGINT, 2 bad config, 1 a bug")
    _add_common(run, default_level="INFO")
    run.add_argument("--bootstrap-servers", metavar="HOST:PORT[,...]",
                     help="Kafka brokers (default: kafka.bootstrap_servers, 127.0.0.1:9092)")
    run.add_argument("--group-id", metavar="ID",
                     help="consumer group (default: kafka.group_id, canarywatch)")
    run.add_argument("--http-listen", metavar="HOST:PORT",
                     help="HTTP API address (default: server.listen, 127.0.0.1:9464)")
    run.add_argument("--state-dir", type=Path, metavar="DIR",
                     help="state directory (default: state_dir, ./canarywatch-state)")
    run.add_argument("--log-format", choices=["json", "text"], default="json",
                     help="log line format on stderr")
    run.add_argument("--insecure-no-auth", action="store_true",
                     help="serve verdicts and Flagger hooks without a bearer token even off "
                          "loopback (warned at every start; set server.bearer_token_file "
                          "instead)")
    _add_webhook_flags(run)

    broker = _sub(sub, "broker",
                  "run a local Kafka-protocol broker (Tansu, from the demo extra) with the "
                  "otlp_spans and otlp_logs topics until Ctrl-C, to try `run` locally")
    broker.add_argument("--listen", default="127.0.0.1:9092", metavar="HOST:PORT",
                        help="where the broker listens")
    broker.add_argument("--log-level", type=log_level, default="INFO", metavar="LEVEL",
                        help="DEBUG, INFO, WARNING, ERROR or CRITICAL")

    simulate = _sub(sub, "simulate",
                    "write a simulated canary release as collector file-exporter files, or "
                    "produce it to Kafka with --to-kafka")
    simulate.add_argument("out_dir", type=Path, metavar="DIR", nargs="?",
                          help="directory to write traces and logs files into (not with "
                               "--to-kafka)")
    simulate.add_argument("--to-kafka", metavar="HOST:PORT",
                          help="produce to Kafka (topics otlp_spans and otlp_logs, "
                               "otlp_proto) instead of writing files")
    simulate.add_argument("--force", action="store_true",
                          help="replace an earlier simulation in DIR instead of refusing")
    simulate.add_argument("--fault", action="append", default=[], metavar="SPEC",
                          help="KIND[@START_S][:ENDPOINT][=MAGNITUDE], e.g. "
                               "'new_error@120:GET /cart=0.3' (repeatable; kinds: "
                               "new_error, new_error_200, known_error_more, error_rate, latency, "
                               "latency_all, shared_outage, reword_info, faster)")
    simulate.add_argument("--duration-s", type=float, default=600.0, metavar="S",
                          help="event-time length of the release")
    simulate.add_argument("--rps", type=float, default=40.0, help="requests per second")
    simulate.add_argument("--canary-share", type=float, default=0.10, metavar="SHARE",
                          help="share of the traffic the canary gets")
    simulate.add_argument("--seed", type=int, default=0, help="random seed")
    simulate.add_argument("--format", choices=["json", "proto"], default="json",
                          help="file exporter format")
    simulate.add_argument("--gzip", action="store_true", help="gzip-compress the files")
    simulate.add_argument("--log-level", type=log_level, default="WARNING", metavar="LEVEL",
                          help="DEBUG, INFO, WARNING, ERROR or CRITICAL")

    demo = _sub(sub, "demo", "run a simulated canary with a fault end to end on a local "
                             "broker and show the verdict")
    demo.add_argument("--log-level", type=log_level, default="WARNING", metavar="LEVEL",
                      help="DEBUG, INFO, WARNING, ERROR or CRITICAL")
    demo.add_argument("--json", action="store_true", help="NDJSON verdict lines on stdout")
    demo.add_argument("--blue-green", action="store_true",
                      help="the new version takes all the traffic at once (no live baseline) "
                           "and is judged against the learned model in --models")
    demo.add_argument("--models", type=Path, metavar="DIR",
                      help="models for --blue-green (default: the example model in the "
                           "source tree's models/ directory, wherever you run from)")
    return parser


def _roles(args: argparse.Namespace) -> ServiceCohorts | None:
    if args.baseline is None and not args.canary:
        return None
    if args.baseline is None or not args.canary:
        raise ConfigError("--baseline/--canary", "give both --baseline and --canary")
    return ServiceCohorts(baseline=args.baseline, canary=tuple(args.canary))


def _with_flag_webhooks(cfg: Config, args: argparse.Namespace) -> Config:
    if args.webhook_secret_file is not None and not args.webhook:
        raise ConfigError("--webhook-secret-file", "signs --webhook deliveries: give --webhook")
    if not args.webhook:
        return cfg
    from canarywatch.actions.webhooks import webhooks_from_flags

    extra = webhooks_from_flags(args.webhook, args.webhook_secret_file)
    actions = cfg.actions.model_copy(update={"webhooks": cfg.actions.webhooks + extra})
    return cfg.model_copy(update={"actions": actions})


def cmd_replay(args: argparse.Namespace) -> int:
    from canarywatch.pipeline import Pipeline, VerdictSink
    from canarywatch.replay import replay_kafka, replay_paths
    from canarywatch.report.text import write_report

    if bool(args.paths) == bool(args.kafka):
        raise ConfigError("PATH/--kafka", "give files to replay, or --kafka (not both)")

    overrides: dict[str, Any] = {}
    if args.state_dir is not None:
        overrides["state_dir"] = str(args.state_dir)
    if args.kafka:
        overrides["kafka"] = {"bootstrap_servers": args.kafka}
    roles = _roles(args)
    cfg = _with_flag_webhooks(config_mod.load(args.config, overrides=overrides), args)
    if args.deliver and not cfg.actions.webhooks:
        raise ConfigError("--deliver", "no webhook to deliver to: give --webhook URL or "
                                       "configure actions.webhooks")
    sinks: list[VerdictSink] = []
    out = GuardedOut(sys.stdout)

    class _Ndjson:
        def send(self, verdict: Any) -> None:
            out.write(json.dumps(verdict.to_json(), ensure_ascii=False) + "\n")
            out.flush()

    if args.json:
        sinks.append(_Ndjson())
    dispatcher = None
    if args.deliver:
        from prometheus_client import CollectorRegistry

        from canarywatch.actions.webhooks import WebhookDispatcher
        from canarywatch.metrics import create_metrics

        dispatcher = WebhookDispatcher(cfg.actions, Path(cfg.state_dir),
                                       create_metrics(CollectorRegistry()))
        sinks.append(dispatcher)
    elif cfg.actions.webhooks:
        log.warning("replay: %d webhook(s) configured but not called (use --deliver)",
                    len(cfg.actions.webhooks))
    from canarywatch.history import history_from_config

    history = history_from_config(cfg, args.models)
    recorder = None
    if args.html is not None:
        from canarywatch.report.timeline import TimelineRecorder

        recorder = TimelineRecorder()
    pipeline = Pipeline(cfg, sinks, global_roles=roles, history=history, observer=recorder)
    between = _time_range(args)
    try:
        with progress_for(not args.no_progress) as progress:
            if args.kafka:
                kafka = _kafka_range(args, cfg, between)
                assert between is not None  # _kafka_range refuses a missing range
                run = replay_kafka(kafka, pipeline, between, progress)
            else:
                run = replay_paths(args.paths, pipeline, progress, between)
    finally:
        if dispatcher is not None:
            if not dispatcher.flush(timeout_s=60.0):
                sys.stderr.write("canarywatch: some webhook deliveries did not succeed (still "
                                 f"pending or given up); see the outbox in {cfg.state_dir}\n")
            dispatcher.close()
    if not run.has_telemetry and not run.partial:
        raise no_telemetry_error([(t.name, t.why_empty()) for t in run.inputs] +
                                 [(str(s.path), f"skipped: {s.reason}") for s in run.skipped])
    if not run.partial:
        check_versions_seen(args.baseline, args.canary, cfg, run.versions)
    result = run.result
    if recorder is not None:
        from canarywatch.report.html import write_replay_report

        inputs = [f"kafka {args.kafka} {args.time_from} to {args.time_to}"] if args.kafka \
            else [str(p) for p in args.paths]
        write_replay_report(args.html, recorder, result, inputs)
    if args.json:
        summary = result.summary_json()
        if run.partial:
            summary["partial"] = True
        if run.skipped:
            summary["skipped"] = [{"path": str(s.path), "reason": s.reason}
                                  for s in run.skipped]
        out.write(json.dumps(summary, ensure_ascii=False) + "\n")
    else:
        write_report(run, out)
    out.flush()
    out.check()
    if run.partial:
        sys.stderr.write("canarywatch: interrupted; the verdicts above are partial\n")
        return EXIT_INTERRUPTED
    return EXIT_ROLLBACK if result.rollback else EXIT_OK


def cmd_record(args: argparse.Namespace) -> int:
    from canarywatch.record import describe, record_range

    cfg = config_mod.load(args.config, overrides={"kafka": {"bootstrap_servers": args.kafka}})
    result = record_range(_kafka_range(args, cfg, _time_range(args)), args.out_dir,
                          gzip=args.gzip)
    for line in describe(result):
        print(line)
    return EXIT_OK


def cmd_learn(args: argparse.Namespace) -> int:
    from canarywatch.history import load_models, save_model
    from canarywatch.history.model import rate
    from canarywatch.history.recorded import learn_paths, learn_sources

    if args.window_s <= 0:
        raise ConfigError("--window-s", "must be > 0")
    if sum(map(bool, (args.paths, args.kafka, args.from_state))) != 1:
        raise ConfigError("PATH/--kafka/--from-state",
                          "give files to learn from, or --kafka, or --from-state (one)")
    overrides = {"kafka": {"bootstrap_servers": args.kafka}} if args.kafka else None
    cfg = config_mod.load(args.config, overrides=overrides)
    previous = load_models(args.out) if args.update and args.out.is_dir() else None
    versions = args.versions or None
    if args.kafka:
        between = _time_range(args)
        kafka = _kafka_range(args, cfg, between)
        try:
            models, _ = learn_sources(
                kafka.partitions(), cfg, f"kafka {args.kafka} {args.time_from} to "
                f"{args.time_to}", versions=versions, window_s=args.window_s,
                previous=previous, between=between)
        finally:
            kafka.close()
    elif args.from_state:
        from canarywatch.history.merge import merge_models
        from canarywatch.history.rolling import models_from_state

        models = [m for m in models_from_state(args.from_state, cfg)
                  if versions is None or set(m.versions) <= set(versions)]
        if previous:
            models = [merge_models(previous[m.service], m) if m.service in previous else m
                      for m in models]
    else:
        models, _ = learn_paths(args.paths, cfg, versions, args.window_s, previous)
    for model in models:
        path = save_model(model, args.out)
        errors = sum(e.errors for e in model.endpoints)
        print(f"{path}: {model.service}, {model.describe()}: {len(model.templates)} templates, "
              f"{len(model.endpoints)} endpoints, {model.requests} {model.exposure}, "
              f"error rate {rate(errors, model.requests):.2%}")
    return EXIT_OK


def cmd_templates(args: argparse.Namespace) -> int:
    from canarywatch.templates import run_templates_command

    cfg = config_mod.load(args.config)
    out = GuardedOut(sys.stdout)  # write and flush are all the command uses of its stream
    code = run_templates_command(args.files, args.json, cfg.templates, cast("TextIO", out),
                                 per_file=args.per_file)
    out.flush()
    out.check()
    return code


def _printable(cfg: Config) -> dict[str, Any]:
    """The effective config for ``check-config --print``, with each webhook ``url`` that is
    itself a credential (a Slack path, ``?token=``) or carries ``user:password@`` masked,
    as the logs mask it: the output goes into terminals, tickets and CI logs."""
    from canarywatch.actions.secreturl import credential_in, without_userinfo
    from canarywatch.redact import MASK

    data = cfg.model_dump(mode="json")
    for hook in data.get("actions", {}).get("webhooks", []):
        url = hook.get("url")
        if url is None:
            continue
        if credential_in(url) is not None:
            hook["url"] = MASK
        elif without_userinfo(url) != url:
            hook["url"] = without_userinfo(url).replace("://", f"://{MASK}@", 1)
    return data


def cmd_check_config(args: argparse.Namespace) -> int:
    cfg = config_mod.load(args.file)
    missing = config_mod.missing_files(cfg)
    if missing is not None:
        raise missing
    out = GuardedOut(sys.stdout)
    if args.print_config:
        import yaml

        out.write(yaml.safe_dump(_printable(cfg), sort_keys=False))
    else:
        out.write(f"{args.file or 'defaults'} (with the environment): ok\n")
    out.flush()
    out.check()
    return EXIT_OK


def cmd_default_config(args: argparse.Namespace) -> int:
    from canarywatch.configdoc import render_defaults

    out = GuardedOut(sys.stdout)
    out.write(render_defaults())
    out.flush()
    out.check()
    return EXIT_OK


def cmd_probe(args: argparse.Namespace) -> int:
    from canarywatch.probe import probe

    ok, detail = probe(config_mod.load(args.config).server, ready=args.ready)
    (sys.stdout if ok else sys.stderr).write(detail + "\n")
    return EXIT_OK if ok else EXIT_BUG


def cmd_run(args: argparse.Namespace) -> int:
    # A stop during start-up (imports, config, state) is held until the daemon's own
    # handlers take over, so it still exits 0 having saved nothing half-done.
    early: list[int] = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda n, _frame: early.append(n))
    from canarywatch.daemon import run_daemon

    overrides: dict[str, Any] = {}
    if args.bootstrap_servers:
        overrides.setdefault("kafka", {})["bootstrap_servers"] = args.bootstrap_servers
    if args.group_id:
        overrides.setdefault("kafka", {})["group_id"] = args.group_id
    if args.http_listen:
        overrides["server"] = {"listen": args.http_listen}
    if args.state_dir is not None:
        overrides["state_dir"] = str(args.state_dir)
    cfg = _with_flag_webhooks(config_mod.load(args.config, overrides=overrides), args)
    return run_daemon(cfg, insecure_no_auth=args.insecure_no_auth, early_signals=early)


def cmd_broker(args: argparse.Namespace) -> int:
    from canarywatch.broker import serve_local_broker

    return serve_local_broker(args.listen, sys.stdout)


def parse_fault(spec: str) -> Any:
    """``KIND[@START_S][:ENDPOINT][=MAGNITUDE]`` into a simulator Fault."""
    from canarywatch.sim import Fault

    rest, _, magnitude = spec.partition("=")
    rest, _, endpoint = rest.partition(":")
    kind, _, start = rest.partition("@")
    try:
        start_s = float(start) if start else 0.0
        size = float(magnitude) if magnitude else _DEFAULT_MAGNITUDE.get(kind.strip(), 0.3)
    except ValueError:
        raise ConfigError("--fault", f"cannot read {spec!r}: "
                          "KIND[@START_S][:ENDPOINT][=MAGNITUDE]") from None
    for what, value in (("START_S", start_s), ("MAGNITUDE", size)):
        if not math.isfinite(value) or value < 0:
            raise ConfigError("--fault", f"{spec!r}: {what} must be a finite number >= 0, "
                                         f"not {value}")
    try:
        return Fault(kind.strip(), start_s=start_s,  # type: ignore[arg-type]
                     endpoint=endpoint.strip() or None, magnitude=size)
    except ValueError:
        raise ConfigError("--fault", f"cannot read {spec!r}: "
                          "KIND[@START_S][:ENDPOINT][=MAGNITUDE]") from None


_DEFAULT_MAGNITUDE = {"latency": 2.0, "latency_all": 1.5, "faster": 0.7}


def cmd_simulate(args: argparse.Namespace) -> int:
    from canarywatch.sim import Scenario, write_collector_files
    from canarywatch.sim.target import prepare_out_dir

    if (args.out_dir is None) == (args.to_kafka is None):
        raise ConfigError("simulate", "give either DIR or --to-kafka HOST:PORT")
    scenario = Scenario(duration_s=args.duration_s, rps=args.rps,
                        canary_share=args.canary_share, seed=args.seed,
                        faults=tuple(parse_fault(f) for f in args.fault))
    if args.to_kafka is not None:
        from canarywatch.sim.produce import produce_scenario

        kafka = config_mod.validate({"kafka": {"bootstrap_servers": args.to_kafka}}).kafka
        sent = produce_scenario(",".join(kafka.bootstrap_servers), scenario,
                                kafka.spans_topic or "otlp_spans",
                                kafka.logs_topic or "otlp_logs")
        for topic, n in sent.items():
            print(f"{args.to_kafka} {topic}: {n} messages")
        return EXIT_OK
    prepare_out_dir(args.out_dir, force=args.force)
    for path in write_collector_files(scenario, args.out_dir, fmt=args.format, gzip=args.gzip):
        print(path)
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from canarywatch.demo import example_models_dir, run_demo

    if args.models is not None and not args.blue_green:
        raise ConfigError("--models", "is for --blue-green")
    return run_demo(json_output=args.json,
                    models_dir=(args.models or example_models_dir()) if args.blue_green
                    else None)


_COMMANDS = {"replay": cmd_replay, "record": cmd_record, "learn": cmd_learn,
             "templates": cmd_templates, "check-config": cmd_check_config,
             "default-config": cmd_default_config,
             "run": cmd_run, "probe": cmd_probe, "broker": cmd_broker,
             "simulate": cmd_simulate, "demo": cmd_demo}
_TOP_LEVEL_OPTIONS = ("-h", "--help", "--version")


def main(argv: Sequence[str] | None = None) -> int:
    from canarywatch import logsetup

    parser = build_parser()
    tokens = list(sys.argv[1:] if argv is None else argv)
    unknown = unknown_top_level_option(tokens, _TOP_LEVEL_OPTIONS)
    if unknown is not None:
        parser.print_usage(sys.stderr)
        sys.stderr.write(f"canarywatch: error: {unknown}\n")
        return EXIT_USAGE
    try:
        args, extras = parser.parse_known_args(tokens)
        if extras:  # reported by the command's own parser: its usage, its options' names
            command = _subparser(parser, args.command)
            command.error(unrecognized_arguments(extras, command))
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    logsetup.configure(getattr(args, "log_level", "WARNING"),
                       getattr(args, "log_format", "text"))
    try:
        code = _COMMANDS[args.command](args)
    except ConfigError as exc:
        sys.stderr.write(f"canarywatch: config error: {exc}\n")
        return EXIT_USAGE
    except CanarywatchError as exc:
        sys.stderr.write(f"canarywatch: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("canarywatch: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # a command without a GuardedOut: its reader went away
        silence_stdout()
        return EXIT_OK
    except Exception as exc:
        if isinstance(exc, OSError) and not _stdout_writable():  # e.g. `> /dev/full`
            sys.stderr.write(f"canarywatch: {output_error(exc)}\n")
            return EXIT_USAGE
        sys.stderr.write("canarywatch: internal error (a bug; please report it):\n")
        traceback.print_exc()
        return EXIT_BUG
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()
    except OSError as exc:  # the command's output is lost (a full disk): whatever it decided
        sys.stderr.write(f"canarywatch: {output_error(exc)}\n")
        return EXIT_USAGE
    return code


def _stdout_writable() -> bool:
    """False when flushing stdout fails: an OSError a command raised came from its output."""
    try:
        sys.stdout.flush()
    except OSError:
        return False
    return True

"""Help, options, config errors and `simulate` targets, through the real console script."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from cli_helpers import run_cli

COMMANDS = ("replay", "templates", "check-config", "default-config", "probe", "run", "broker",
            "simulate", "demo", "record", "learn")


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_is_documented_with_its_default(command: str) -> None:
    """Each option of each command has help text; options with a default show it."""
    from canarywatch.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]  # type: ignore[union-attr]
    result = run_cli([command, "--help"])
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for action in sub._actions:
        if not action.option_strings or action.dest == "help":
            continue
        assert action.help, f"{command} {action.option_strings[0]} has no help"
        default = action.default
        if default is not None and default is not False and default != []:  # 0 is one
            assert f"(default: {default})" in text, (command, action.option_strings)
            assert text.count(f"(default: {default})") >= 1
            assert "(default 60)" not in text  # said once, the same way


def test_help_lists_exit_codes() -> None:
    """`canarywatch --help` and `replay --help` give every exit code, 130 included."""
    for args in (["--help"], ["replay", "--help"]):
        out = run_cli(args).stdout
        for code in ("0 ", "1 ", "2 ", "3 ", "130 "):
            assert re.search(rf"^\s+{code}", out, re.M), (args, code)


def test_unknown_option_is_reported_as_unknown() -> None:
    """`canarywatch --versoin` names the unknown option (and the near one), not 'command
    required'."""
    result = run_cli(["--versoin"])
    assert result.returncode == 2
    assert "unrecognized option: --versoin (did you mean --version?)" in result.stderr
    assert "required" not in result.stderr
    assert run_cli(["--version"]).returncode == 0


def test_a_misspelt_command_option_is_named_with_the_nearest_one() -> None:
    """`replay --jsno`: the replay usage and "did you mean --json?", not the top-level usage;
    an option with no near name is still named."""
    result = run_cli(["replay", "--jsno", "x"])
    assert result.returncode == 2
    assert result.stderr.startswith("usage: canarywatch replay ")
    assert "unrecognized arguments: --jsno (--jsno: did you mean --json?)" in result.stderr
    far = run_cli(["templates", "--zzzzzz", "x"])
    assert far.returncode == 2
    assert far.stderr.startswith("usage: canarywatch templates ")
    assert "unrecognized arguments: --zzzzzz\n" in far.stderr


def test_deliver_or_secret_without_webhook_is_an_error(tmp_path: Path) -> None:
    """--deliver with no webhook, or --webhook-secret-file without --webhook, exits 2."""
    data = tmp_path / "app.log"
    data.write_text("hello\n")
    deliver = run_cli(["replay", "--deliver", str(data)])
    assert deliver.returncode == 2 and "--deliver" in deliver.stderr
    secret = tmp_path / "secret"
    secret.write_text("s3cret")
    signed = run_cli(["replay", "--webhook-secret-file", str(secret), str(data)])
    assert signed.returncode == 2 and "--webhook-secret-file" in signed.stderr


def test_webhook_help_matches_what_is_sent() -> None:
    """--webhook's help says every change (continue included) is sent, as the flag's
    webhooks are configured."""
    from canarywatch.actions.webhooks import webhooks_from_flags

    (hook,) = webhooks_from_flags(["http://127.0.0.1:1/hook"], None)
    assert hook.on == ("change",)  # every action change, continue included
    text = " ".join(run_cli(["replay", "--help"]).stdout.split())
    assert "every verdict change (continue, promote and rollback)" in text


def test_env_error_names_the_variable() -> None:
    """A bad CANARYWATCH_* variable is reported with its name and the nearest valid key."""
    result = run_cli(["check-config"], env={"CANARYWATCH_ANALYSIS__ALHPA": "0.1"})
    assert result.returncode == 2
    assert "analysis.alhpa: unknown key (did you mean analysis.alpha?)" in result.stderr
    assert "CANARYWATCH_ANALYSIS__ALHPA" in result.stderr
    bad = run_cli(["check-config"], env={"CANARYWATCH_ANALYSIS__PERSISTENCE": "0"})
    assert bad.returncode == 2 and "CANARYWATCH_ANALYSIS__PERSISTENCE" in bad.stderr


def test_unknown_file_key_suggests_the_nearest(tmp_path: Path) -> None:
    """An unknown key in a config file names the nearest valid key at its place."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text("kafka:\n  bootstrap_server: kafka:9092\n")
    result = run_cli(["check-config", str(cfg)])
    assert result.returncode == 2
    assert "kafka.bootstrap_server: unknown key (did you mean kafka.bootstrap_servers?)" \
        in result.stderr


def test_check_config_applies_the_environment_and_prints(tmp_path: Path) -> None:
    """check-config reads the environment like `run` does; --print shows the effective
    config."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text("kafka:\n  group_id: from-file\n")
    env = {"CANARYWATCH_KAFKA__BOOTSTRAP_SERVERS": "kafka-1:9092,kafka-2:9092"}
    result = run_cli(["check-config", str(cfg), "--print"], env=env)
    assert result.returncode == 0, result.stderr
    printed = yaml.safe_load(result.stdout)
    assert printed["kafka"]["group_id"] == "from-file"
    assert printed["kafka"]["bootstrap_servers"] == ["kafka-1:9092", "kafka-2:9092"]
    plain = run_cli(["check-config", str(cfg)], env={"CANARYWATCH_SERVER__LISTEN": "nope"})
    assert plain.returncode == 2  # the environment is applied without --print too
    assert "server.listen" in plain.stderr and "CANARYWATCH_SERVER__LISTEN" in plain.stderr


def test_check_config_print_masks_webhook_urls_that_are_credentials(tmp_path: Path) -> None:
    """A Slack webhook path, a ?token= URL and user:password@ are masked in --print (its
    output lands in tickets and CI logs); a plain URL is shown as written."""
    slack = "https://hooks.slack.com/services/T0AAAAAAA/B0BBBBBBB/xyzSECRETxyzSECRET"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"actions": {"webhooks": [
        {"name": "chat", "url": slack, "preset": "slack"},
        {"name": "gate", "url": "https://gate.example/hook?token=s3cr3t-t0ken-value"},
        {"name": "basic", "url": "https://ops:hunter2-password@router.example/abort"},
        {"name": "plain", "url": "http://flagger-loadtester.test/gate/halt"}]}}))
    result = run_cli(["check-config", str(cfg), "--print"])
    assert result.returncode == 0, result.stderr
    for secret in ("xyzSECRET", "s3cr3t-t0ken", "hunter2"):
        assert secret not in result.stdout
    urls = [h["url"] for h in yaml.safe_load(result.stdout)["actions"]["webhooks"]]
    assert urls == ["<redacted>", "<redacted>", "https://<redacted>@router.example/abort",
                    "http://flagger-loadtester.test/gate/halt"]


def test_simulate_refuses_existing_targets_unless_forced(tmp_path: Path) -> None:
    """simulate onto a file or onto an earlier simulation exits 2; --force replaces it, so
    a replay of the directory counts each event once."""
    a_file = tmp_path / "file"
    a_file.write_text("x")
    onto_file = run_cli(["simulate", str(a_file), "--duration-s", "30"])
    assert onto_file.returncode == 2 and "not a directory" in onto_file.stderr
    assert "Traceback" not in onto_file.stderr
    out = tmp_path / "sim"
    assert run_cli(["simulate", str(out), "--duration-s", "30"]).returncode == 0
    once = run_cli(["replay", "--json", str(out)]).stdout.splitlines()[-1]
    again = run_cli(["simulate", str(out), "--duration-s", "30", "--format", "proto"])
    assert again.returncode == 2 and "--force" in again.stderr
    forced = run_cli(["simulate", str(out), "--duration-s", "30", "--format", "proto",
                      "--force"])
    assert forced.returncode == 0, forced.stderr
    assert sorted(p.name for p in out.iterdir()) == ["logs.pb", "traces.pb"]
    assert run_cli(["replay", "--json", str(out)]).stdout.splitlines()[-1] == once
    (out / "notes.txt").write_text("mine")
    kept = run_cli(["simulate", str(out), "--duration-s", "30", "--force"])
    assert kept.returncode == 2 and "notes.txt" in kept.stderr
    assert (out / "notes.txt").exists()


def test_templates_reads_standard_input() -> None:
    """`kubectl logs ... | canarywatch templates -`: the lines group into templates with
    their severity, most frequent first."""
    lines = [f"2026-12-02T10:00:{i:02d}Z INFO user {1000 + i} logged in from 10.0.0.{i}"
             for i in range(30)]
    lines += [f"2026-12-02T10:01:{i:02d}Z ERROR payment {i} declined: card expired"
              for i in range(5)]
    result = run_cli(["templates", "--json", "-"], stdin="\n".join(lines).encode() + b"\n")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 35
    by_template: dict[str, set[str]] = {}
    for row in rows:
        by_template.setdefault(row["template"], set()).add(str(row.get("severity")))
    assert len(by_template) == 2, by_template
    assert sorted(s for v in by_template.values() for s in v) == ["ERROR", "INFO"]
    table = run_cli(["templates", "-"], stdin="\n".join(lines).encode() + b"\n")
    assert table.returncode == 0
    body = [line for line in table.stdout.splitlines()
            if ("logged in" in line or "declined" in line) and "e.g." not in line]
    assert "logged in" in body[0] and "INFO" in body[0] and "ERROR" in body[1]

"""The ``log_signature`` signal: templates that are new, or more frequent, in the canary.

For each template the canary logged inside the window, the exact conditional binomial test
asks: of the n = canary + baseline lines of this template, does the canary hold more than its
share of the traffic? With no baseline line the p-value is share**n, so a new template needs
only a handful of lines; an incident both cohorts share leaves the canary at its share and
stays quiet. Only templates of a failing severity can fail the canary; others are reported.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from canarywatch.analysis.base import SignalResult
from canarywatch.analysis.stats import binom_sf, min_binomial_p
from canarywatch.config import AnalysisConfig
from canarywatch.events import LogEvent, Reason, Severity, Signal
from canarywatch.templates.preprocess import application_frames

NEW = "new"
UNEXPECTED_FREQUENCY = "unexpected_frequency"
KNOWN = "known"

# One example line: (body, trace id, a structured line's other fields as (name, text) pairs).
Example = tuple[str, str, tuple[tuple[str, str], ...]]


@dataclass(slots=True)
class TemplateInfo:
    """What is remembered about one template of one service beyond the window."""

    severity: Severity
    first_seen_unix_nano: int
    versions: set[str] = field(default_factory=set)  # every version that ever logged it
    # version -> example lines: (body, trace id, a structured line's other fields)
    examples: dict[str, list[Example]] = field(default_factory=dict)
    # The template's text when the miner evicted it; kept only for templates that drove a
    # verdict (the analysis forgets the others, see Analyzer.forget_templates).
    text: str | None = None

    def observe(self, ev: LogEvent, version: str, max_examples: int) -> None:
        self.severity = max(self.severity, ev.severity)
        self.versions.add(version)
        lines = self.examples.setdefault(version, [])
        if len(lines) < max_examples:
            lines.append((ev.body, ev.trace_id, ev.attributes))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "severity": int(self.severity), "first_seen": self.first_seen_unix_nano,
            "versions": sorted(self.versions),
            "examples": {v: [[b, t, [list(kv) for kv in a]] if a else [b, t]
                             for b, t, a in xs] for v, xs in self.examples.items()}}
        if self.text is not None:
            out["text"] = self.text
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TemplateInfo:
        return cls(Severity(int(data["severity"])), int(data["first_seen"]),
                   set(data["versions"]),
                   {v: [_example_from_json(x) for x in xs]
                    for v, xs in data["examples"].items()},
                   None if data.get("text") is None else str(data["text"]))


def _example_from_json(item: list[Any]) -> Example:
    """[body, trace id] or [body, trace id, [[name, text], ...]] (state before and after
    structured lines kept their fields)."""
    attributes = tuple((str(k), str(v)) for k, v in item[2]) if len(item) > 2 else ()
    return str(item[0]), str(item[1]), attributes


def failing_severities(config: AnalysisConfig) -> frozenset[Severity]:
    return frozenset(Severity[name] for name in config.failing_severities)


def log_signals(canary_counts: dict[int, int], baseline_counts: dict[int, int],
                book: dict[int, TemplateInfo], share: float, *, baseline_version: str,
                canary_version: str, config: AnalysisConfig,
                template_text: Callable[[int], str],
                endpoint: str | None = None) -> list[SignalResult]:
    """One result per template the canary logged in the window (on ``endpoint`` if given).

    Per-endpoint results compare the lines written by one endpoint's requests against that
    endpoint's traffic share; they are reported only when they fail.
    """
    failing = failing_severities(config)
    out: list[SignalResult] = []
    for tid, c in canary_counts.items():
        info = book.get(tid)
        if info is None or c <= 0:
            continue
        b = baseline_counts.get(tid, 0)
        n = c + b
        p_value = binom_sf(c, n, share)
        ratio = math.inf if b == 0 else (c * (1.0 - share)) / (b * share)
        if baseline_version not in info.versions:
            kind = NEW
        elif ratio > 1.0 and p_value < 0.5:
            kind = UNEXPECTED_FREQUENCY
        else:
            kind = KNOWN
        severe = info.severity in failing
        can_fail = severe and c >= config.min_template_count
        effect_ok = ratio >= config.template_min_ratio
        notable = endpoint is None and (
            kind == NEW or (kind == UNEXPECTED_FREQUENCY and severe and effect_ok))
        key = f"template:{tid}" if endpoint is None else f"template:{tid}:{endpoint}"
        min_p = min_binomial_p(n, share) if severe else 1.0
        if not notable and p_value > DETAIL_P:
            # Far from any threshold and not reported: the counts only, no text or examples
            # (most templates at most looks; building their evidence was most of a look).
            out.append(SignalResult(key=key, p_value=p_value, min_p_value=min_p,
                                    can_fail=can_fail, effect_ok=effect_ok,
                                    reason=light_reason(tid, endpoint, c, b, p_value)))
            continue
        text = _text_of(tid, info, template_text)
        level = info.severity.name
        where = "" if endpoint is None else f" on {endpoint}"
        lines = f"{c} line" if c == 1 else f"{c} lines"
        if kind == NEW:
            summary = (f"new {level} template in {canary_version}{where}: {lines}, none "
                       f"from {baseline_version}: {text!r}")
        else:
            summary = (f"{level} template {text!r}{where}: {lines} in {canary_version} vs "
                       f"{b} in {baseline_version}, {_fmt_ratio(ratio)} its share of the traffic")
        examples = [_example(v, *line)
                    for v in (canary_version, baseline_version)
                    for line in info.examples.get(v, [])]
        frames: list[str] = next((e["frames"] for e in examples if e.get("frames")), [])
        reason = Reason(
            signal=Signal.LOG_SIGNATURE, summary=summary, failed=False, p_value=p_value,
            effect_size=None if math.isinf(ratio) else ratio, endpoint=endpoint,
            template_id=tid, template=text,
            baseline_count=b, canary_count=c,
            details=(("class", kind), ("severity", level), ("canary_traffic_share", share),
                     ("canary_line_share", c / n), ("examples", examples),
                     *((("application_frames", frames),) if frames else ())),
        )
        out.append(SignalResult(key=key, p_value=p_value, min_p_value=min_p,
                                can_fail=can_fail, effect_ok=effect_ok, reason=reason,
                                notable=notable))
    return out


# A result whose p-value is above this cannot fail under any threshold the judge uses
# (alpha < 0.5, split over looks and tests) and is not shown: it carries counts only.
DETAIL_P = 0.05


def light_reason(tid: int, endpoint: str | None, canary: int, baseline: int,
                 p_value: float) -> Reason:
    """The evidence of a template result far from failing: ids and counts, no text."""
    return Reason(signal=Signal.LOG_SIGNATURE, summary="", failed=False, p_value=p_value,
                  endpoint=endpoint, template_id=tid, canary_count=canary,
                  baseline_count=baseline)


def _example(version: str, body: str, trace_id: str,
             attributes: tuple[tuple[str, str], ...] = ()) -> dict[str, Any]:
    """One example line; a stack trace's first application frames and a structured line's
    other fields ride along as evidence."""
    example: dict[str, Any] = {"version": version, "body": body, "trace_id": trace_id}
    if attributes:
        example["attributes"] = dict(attributes)
    if "\n" in body:
        frames = application_frames(body)
        if frames:
            example["frames"] = frames
    return example


def _text_of(tid: int, info: TemplateInfo, template_text: Callable[[int], str]) -> str:
    """The miner's current text; an evicted template's text as it was, else one of its lines."""
    try:
        return template_text(tid)
    except KeyError:
        if info.text is not None:
            return info.text
        return next((lines[0][0] for lines in info.examples.values() if lines), f"#{tid}")


def _fmt_ratio(ratio: float) -> str:
    return "infinitely above" if math.isinf(ratio) else f"{ratio:.1f}x"

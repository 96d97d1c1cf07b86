"""What the served endpoints answer, as pure functions of a verdict (no HTTP here).

Flagger (``POST /v1/flagger/rollback`` and ``POST /v1/flagger/gate``) reads only the status
code: 200-202 is success, anything else failure. Its payload is
``{"name", "namespace", "phase", "checksum", "metadata": {str: str}}``. The canarywatch service
is ``metadata.service`` when set, else ``name`` (the Canary, usually named like the workload,
whose ``service.name`` it then is). ``metadata.canary_version`` picks one canary version
(default: the service's latest verdict, see :mod:`canarywatch.server.board`). When the
payload's ``checksum`` (the Canary's revision) changes, verdicts from before the change stop
counting, so the last release's rollback never answers for the next release.

- rollback hook: 200 when the selected verdict is ``rollback`` ("roll back now"), 403 otherwise,
  including when there is no verdict: canarywatch never rolls back what it has not judged.
- gate, for the hook named by ``?hook=`` or ``metadata.hook`` (default ``rollout``):
  403 whenever the verdict is ``rollback``. Otherwise:

  * ``rollout``, ``pre-rollout``, ``confirm-rollout``, ``confirm-traffic-increase``: 200, also
    with no verdict yet. Flagger counts a failed ``rollout`` hook towards the analysis
    threshold and rolls back when it is reached; a canary that has had no traffic yet, or
    whose telemetry is still on its way, is not evidence of a fault, and answering 403 would
    roll back healthy canaries on every slow start. Flagger's own metric checks still run.
  * ``confirm-promotion``: 200 only when there is a verdict and it is not ``rollback``; with
    ``metadata.require: promote``, only when it is ``promote``. Flagger holds (does not fail) a
    canary whose promotion gate says no, and keeps running its checks, so the cautious answer
    costs only time: never promote a canary canarywatch has not seen.

Argo Rollouts (``GET /v1/verdicts/<service>``, web metric provider): always 200 with
``{"service", "found", "action", "healthy", "rollback", "promote", "canary_version",
"baseline_version", "score", "at", "at_unix_nano", "summary", "reasons"}``. ``action`` is
``none`` and ``healthy`` true when there is no verdict: a non-2xx would count as a measurement
*error*, and Argo aborts a rollout after a few consecutive errors. Conditions:
``successCondition: result.healthy == true``, ``failureCondition: result.action ==
"rollback"`` (add ``result.found == true`` to the success condition to require a verdict).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from canarywatch.actions.spec import summary_of
from canarywatch.events import Action, Verdict


class Hook(str, enum.Enum):
    """Flagger webhook types the gate endpoint serves."""

    CONFIRM_ROLLOUT = "confirm-rollout"
    PRE_ROLLOUT = "pre-rollout"
    ROLLOUT = "rollout"
    CONFIRM_TRAFFIC_INCREASE = "confirm-traffic-increase"
    CONFIRM_PROMOTION = "confirm-promotion"


class BadRequestError(ValueError):
    """The request cannot be answered (HTTP 400)."""


@dataclass(frozen=True, slots=True)
class FlaggerRequest:
    """What a Flagger webhook call asks about."""

    service: str
    namespace: str
    name: str
    checksum: str | None
    canary_version: str | None
    hook: Hook
    require_promote: bool
    token: str | None


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: dict[str, object]


def _text(value: object, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequestError(f"{what} must be a string")
    return value or None


def parse_flagger(payload: object, query: Mapping[str, str]) -> FlaggerRequest:
    """Read Flagger's webhook payload (and ``?hook=``); BadRequestError when unusable."""
    if not isinstance(payload, Mapping):
        raise BadRequestError("payload must be a JSON object")
    metadata = payload.get("metadata") or {}
    if not isinstance(metadata, Mapping):
        raise BadRequestError("metadata must be an object")
    name = _text(payload.get("name"), "name")
    service = _text(metadata.get("service"), "metadata.service") or name
    if service is None:
        raise BadRequestError("payload has no name (nor metadata.service)")
    hook_name = query.get("hook") or _text(metadata.get("hook"), "metadata.hook") or "rollout"
    try:
        hook = Hook(hook_name)
    except ValueError:
        valid = ", ".join(h.value for h in Hook)
        raise BadRequestError(f"unknown hook '{hook_name}' (valid: {valid})") from None
    require = _text(metadata.get("require"), "metadata.require")
    if require not in (None, "promote", "healthy"):
        raise BadRequestError("metadata.require must be 'promote' or 'healthy'")
    return FlaggerRequest(
        service=service, namespace=_text(payload.get("namespace"), "namespace") or "",
        name=name or service, checksum=_text(payload.get("checksum"), "checksum"),
        canary_version=_text(metadata.get("canary_version"), "metadata.canary_version"),
        hook=hook, require_promote=require == "promote",
        token=_text(metadata.get("token"), "metadata.token"))


def _describe(request: FlaggerRequest, verdict: Verdict | None) -> dict[str, object]:
    out: dict[str, object] = {"service": request.service, "namespace": request.namespace}
    if verdict is None:
        out.update(action="none", summary="no verdict yet for this service")
    else:
        out.update(action=verdict.action.value, canary_version=verdict.canary_version,
                   baseline_version=verdict.baseline_version, summary=summary_of(verdict))
    return out


def rollback_answer(request: FlaggerRequest, verdict: Verdict | None) -> Answer:
    """Flagger ``rollback`` hook: 200 means roll back now, 403 means do not."""
    rollback = verdict is not None and verdict.action is Action.ROLLBACK
    return Answer(200 if rollback else 403, {"rollback": rollback, **_describe(request, verdict)})


def gate_answer(request: FlaggerRequest, verdict: Verdict | None) -> Answer:
    """Flagger gate hooks: 200 healthy (go on), 403 not healthy (see the module docstring)."""
    if verdict is not None and verdict.action is Action.ROLLBACK:
        healthy = False
    elif request.hook is Hook.CONFIRM_PROMOTION:
        if verdict is None:
            healthy = False
        elif request.require_promote:
            healthy = verdict.action is Action.PROMOTE
        else:
            healthy = True
    else:
        healthy = True
    body = {"healthy": healthy, "hook": request.hook.value, **_describe(request, verdict)}
    return Answer(200 if healthy else 403, body)


def argo_result(service: str, verdict: Verdict | None) -> dict[str, object]:
    """The JSON the Argo Rollouts web metric provider reads (see the module docstring)."""
    if verdict is None:
        return {"service": service, "found": False, "action": "none", "healthy": True,
                "rollback": False, "promote": False, "canary_version": None,
                "baseline_version": None, "score": None, "at": None, "at_unix_nano": None,
                "summary": "no verdict yet for this service", "reasons": []}
    as_json = verdict.to_json()
    return {
        "service": service,
        "found": True,
        "action": verdict.action.value,
        "healthy": verdict.action is not Action.ROLLBACK,
        "rollback": verdict.action is Action.ROLLBACK,
        "promote": verdict.action is Action.PROMOTE,
        "canary_version": verdict.canary_version,
        "baseline_version": verdict.baseline_version,
        "score": verdict.score,
        "at": as_json["at"],
        "at_unix_nano": verdict.at_unix_nano,
        "summary": summary_of(verdict),
        "reasons": as_json["reasons"],
    }

"""Flagger and Argo answers: what each router is told for each verdict."""

from __future__ import annotations

import pytest

from canarywatch.events import Action, Reason, Signal, Verdict
from canarywatch.server.answers import (
    BadRequestError,
    FlaggerRequest,
    Hook,
    argo_result,
    gate_answer,
    parse_flagger,
    rollback_answer,
)


def _v(action: Action) -> Verdict:
    reason = Reason(signal=Signal.ERROR_RATE, summary="5xx rate up on POST /pay",
                    failed=action is Action.ROLLBACK)
    return Verdict(service="checkout", baseline_version="1.4.2", canary_version="1.5.0",
                   action=action, at_unix_nano=5, score=0.1, reasons=(reason,))


def _flagger(metadata: dict[str, str] | None = None, **query: str) -> FlaggerRequest:
    payload = {"name": "checkout", "namespace": "shop", "phase": "Progressing",
               "checksum": "abc", "metadata": metadata or {}}
    return parse_flagger(payload, query)


def test_payload_maps_to_a_service() -> None:
    """The Canary name is the service unless metadata.service says otherwise."""
    assert _flagger().service == "checkout"
    request = _flagger({"service": "checkout-api", "canary_version": "2", "token": "t"})
    assert (request.service, request.canary_version, request.token) == (
        "checkout-api", "2", "t")
    assert request.hook is Hook.ROLLOUT
    assert _flagger(hook="confirm-promotion").hook is Hook.CONFIRM_PROMOTION
    assert _flagger({"hook": "confirm-promotion"}).hook is Hook.CONFIRM_PROMOTION


@pytest.mark.parametrize("payload", [[1], {"namespace": "x"}, {"name": 3},
                                     {"name": "a", "metadata": "m"}])
def test_unusable_payloads_are_bad_requests(payload: object) -> None:
    """A payload without a usable name is refused."""
    with pytest.raises(BadRequestError):
        parse_flagger(payload, {})


def test_unknown_hook_lists_the_valid_ones() -> None:
    """An unknown hook name is refused, listing the known hooks."""
    with pytest.raises(BadRequestError, match="confirm-promotion"):
        _flagger(hook="post-rollout")


@pytest.mark.parametrize(("action", "status"), [
    (None, 403), (Action.CONTINUE, 403), (Action.PROMOTE, 403), (Action.ROLLBACK, 200)])
def test_rollback_hook_says_yes_only_for_rollback(action: Action | None, status: int) -> None:
    """The rollback hook answers 200 only when the verdict is rollback."""
    verdict = None if action is None else _v(action)
    assert rollback_answer(_flagger(), verdict).status == status


@pytest.mark.parametrize(("hook", "metadata", "action", "status"), [
    ("rollout", {}, None, 200),
    ("rollout", {}, Action.CONTINUE, 200),
    ("rollout", {}, Action.ROLLBACK, 403),
    ("confirm-traffic-increase", {}, Action.ROLLBACK, 403),
    ("confirm-promotion", {}, None, 403),
    ("confirm-promotion", {}, Action.CONTINUE, 200),
    ("confirm-promotion", {}, Action.ROLLBACK, 403),
    ("confirm-promotion", {"require": "promote"}, Action.CONTINUE, 403),
    ("confirm-promotion", {"require": "promote"}, Action.PROMOTE, 200),
])
def test_gate_answers(hook: str, metadata: dict[str, str], action: Action | None,
                      status: int) -> None:
    """The gate blocks a rollback always, and an unjudged canary only at promotion."""
    verdict = None if action is None else _v(action)
    answer = gate_answer(_flagger(metadata, hook=hook), verdict)
    assert answer.status == status
    assert answer.body["healthy"] is (status == 200)


def test_argo_result_fields() -> None:
    """The Argo JSON says found/action/healthy, with the failing reason as summary."""
    failing = argo_result("checkout", _v(Action.ROLLBACK))
    assert (failing["found"], failing["action"], failing["healthy"], failing["rollback"]) == (
        True, "rollback", False, True)
    assert failing["summary"] == "5xx rate up on POST /pay"
    assert failing["canary_version"] == "1.5.0"
    unseen = argo_result("checkout", None)
    assert (unseen["found"], unseen["action"], unseen["healthy"]) == (False, "none", True)

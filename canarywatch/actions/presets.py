"""Webhook presets: ready-made requests for the routers canarywatch talks to.

Each preset gives a method, a path appended to the configured ``url``, a content type, a body
template (see :mod:`canarywatch.actions.templating`) and the ``params`` it needs:

- ``generic``: POST the verdict JSON of DESIGN.md plus its decision ``id``.
- ``flagger-loadtester``: POST ``{"name", "namespace"}`` to the load tester's
  ``/rollback/open`` on a rollback (``/rollback/close`` on other actions), so a Flagger
  ``rollback`` webhook pointed at ``/rollback/check`` rolls the canary back.
  ``url`` is the load tester's base URL; params ``namespace`` (required), ``name`` (the Canary,
  default: the service). The gate *latches*: it stays open until closed, so with
  ``release_latch`` (the default for this preset) canarywatch closes it when that service's
  next release starts (a new canary version, or a new Flagger revision of the Canary), and
  the next healthy release's ``/rollback/check`` does not answer "roll back".
- ``argo-rollouts-abort``: Kubernetes API merge-patch ``{"status":{"abort":true}}`` on
  ``rollouts/<rollout>/status``; rollback only. ``url`` is the API server; params
  ``namespace`` (required), ``rollout`` (default: the service).
- ``nginx-canary-weight``: Kubernetes API merge-patch setting the canary Ingress's
  ``nginx.ingress.kubernetes.io/canary-weight`` annotation to ``"0"``; rollback only.
  Params ``namespace`` and ``ingress`` (both required).
- ``chat``: POST ``{"text": "<one line>"}`` (Slack / Mattermost incoming webhooks; set param
  ``field: content`` for Discord), with telemetry text escaped for chat markup.

The two Kubernetes presets use the pod's service-account token and CA
(``/var/run/secrets/kubernetes.io/serviceaccount``) when those files exist and the webhook
names no ``bearer_token_file`` / ``ca_file`` of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from canarywatch.events import Action, Verdict

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"


class Preset:
    """Defaults for one kind of receiver; subclasses override the class attributes."""

    name: ClassVar[str]
    method: ClassVar[str] = "POST"
    content_type: ClassVar[str] = JSON
    path: ClassVar[str] = ""
    required_params: ClassVar[tuple[str, ...]] = ()
    # None: any params (they may feed a custom template); else the only names accepted.
    known_params: ClassVar[frozenset[str] | None] = None
    # Actions this receiver has a request for (None: all of them).
    actions: ClassVar[frozenset[Action] | None] = None
    uses_service_account: ClassVar[bool] = False
    # The receiver keeps a rollback until told otherwise (a gate): release_path is where
    # canarywatch tells it, when the service's next release starts.
    release_path: ClassVar[str | None] = None

    def __init__(self, params: Mapping[str, str]) -> None:
        self.params = dict(params)

    def applies(self, action: Action) -> bool:
        """Whether this preset has a request to make for ``action``."""
        return self.actions is None or action in self.actions

    def path_for(self, action: Action) -> str:
        """URL path template appended to the configured ``url``."""
        return self.path

    def params_for(self, verdict: Verdict) -> dict[str, str]:
        """The webhook's params with the preset's defaults filled in from the verdict."""
        return dict(self.params)

    def body(self) -> object:
        """The default body template document."""
        raise NotImplementedError


class GenericPreset(Preset):
    name = "generic"

    def body(self) -> object:
        return {
            "id": "{{id}}",
            "type": "verdict",
            "service": "{{service}}",
            "baseline_version": "{{baseline_version}}",
            "canary_version": "{{canary_version}}",
            "action": "{{action}}",
            "at_unix_nano": "{{at_unix_nano}}",
            "at": "{{at}}",
            "score": "{{score}}",
            "reasons": "{{reasons}}",
        }


class FlaggerLoadtesterPreset(Preset):
    name = "flagger-loadtester"
    required_params = ("namespace",)
    known_params = frozenset({"namespace", "name"})

    release_path = "/rollback/close"

    def path_for(self, action: Action) -> str:
        return "/rollback/open" if action is Action.ROLLBACK else "/rollback/close"

    def params_for(self, verdict: Verdict) -> dict[str, str]:
        return {"name": verdict.service, **self.params}

    def body(self) -> object:
        return {"name": "{{params.name}}", "namespace": "{{params.namespace}}"}


class ArgoRolloutsAbortPreset(Preset):
    name = "argo-rollouts-abort"
    method = "PATCH"
    content_type = MERGE_PATCH
    path = ("/apis/argoproj.io/v1alpha1/namespaces/{{params.namespace}}"
            "/rollouts/{{params.rollout}}/status")
    required_params = ("namespace",)
    known_params = frozenset({"namespace", "rollout"})
    actions = frozenset({Action.ROLLBACK})
    uses_service_account = True

    def params_for(self, verdict: Verdict) -> dict[str, str]:
        return {"rollout": verdict.service, **self.params}

    def body(self) -> object:
        return {"status": {"abort": True}}


class NginxCanaryWeightPreset(Preset):
    name = "nginx-canary-weight"
    method = "PATCH"
    content_type = MERGE_PATCH
    path = "/apis/networking.k8s.io/v1/namespaces/{{params.namespace}}/ingresses/{{params.ingress}}"
    required_params = ("namespace", "ingress")
    known_params = frozenset({"namespace", "ingress"})
    actions = frozenset({Action.ROLLBACK})
    uses_service_account = True

    def body(self) -> object:
        return {"metadata": {"annotations": {"nginx.ingress.kubernetes.io/canary-weight": "0"}}}


class ChatPreset(Preset):
    name = "chat"
    known_params = frozenset({"field"})

    def body(self) -> object:
        text = ("canarywatch {{action|upper}}: {{service|chat}} {{canary_version|chat}}"
                " (baseline {{baseline_version|chat}}, score {{score}}): {{summary|chat}}"
                " [decision {{id}}]")
        return {self.params.get("field", "text"): text}


PRESETS: dict[str, type[Preset]] = {
    cls.name: cls
    for cls in (GenericPreset, FlaggerLoadtesterPreset, ArgoRolloutsAbortPreset,
                NginxCanaryWeightPreset, ChatPreset)
}

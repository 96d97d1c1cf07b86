"""The Kubernetes manifests and the Dockerfile agree with the code they deploy."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from canarywatch import config as config_mod
from canarywatch.actions.presets import PRESETS
from canarywatch.errors import ConfigError
from canarywatch.probe import HEALTH_PATH, READY_PATH
from canarywatch.server.auth import load_bearer_token
from canarywatch.server.board import VerdictBoard
from canarywatch.server.http import ApiServer

ROOT = Path(__file__).resolve().parents[2]
KUBE = ROOT / "config" / "kubernetes"


def _docs() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(KUBE.glob("*.yaml")):
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


def _one(kind: str) -> dict[str, Any]:
    found = [d for d in _docs() if d["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def _container() -> dict[str, Any]:
    containers = _one("Deployment")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def _env() -> dict[str, str]:
    return {e["name"]: str(e["value"]) for e in _container().get("env", [])}


def test_manifests_hold_the_kinds_an_operator_needs() -> None:
    """config/kubernetes/ holds a Deployment, Service, ServiceAccount, Role and RoleBinding."""
    kinds = {d["kind"] for d in _docs()}
    assert {"Deployment", "Service", "ServiceAccount", "Role", "RoleBinding"} <= kinds


def test_every_env_variable_is_a_real_config_key() -> None:
    """Each CANARYWATCH_* variable of the Deployment is accepted by the config loader."""
    env = _env()
    assert env, "the Deployment sets no configuration"
    assert all(name.startswith(config_mod.ENV_PREFIX) for name in env)
    cfg = config_mod.load(environ=env)
    assert cfg.state_dir == env["CANARYWATCH_STATE_DIR"]
    assert cfg.server.listen == env["CANARYWATCH_SERVER__LISTEN"]


def test_ports_agree_between_config_deployment_service_and_dockerfile() -> None:
    """The listen port, containerPort, Service targetPort and the image's EXPOSE are one port."""
    port = int(config_mod.load(environ=_env()).server.listen.rpartition(":")[2])
    ports = {p["name"]: p["containerPort"] for p in _container()["ports"]}
    assert ports["http"] == port
    service_ports = _one("Service")["spec"]["ports"]
    assert [(p["port"], p["targetPort"]) for p in service_ports] == [(port, "http")]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(rf"^EXPOSE {port}$", dockerfile, re.M)
    image_listen = re.search(r"CANARYWATCH_SERVER__LISTEN=(\S+)", dockerfile)
    assert image_listen and image_listen.group(1).endswith(f":{port}")
    assert 'CMD ["canarywatch", "probe"]' in dockerfile  # the health check follows the config


def test_probes_hit_paths_the_real_server_answers() -> None:
    """Liveness probes /healthz, readiness /readyz, and the real API server answers both."""
    container = _container()
    assert container["livenessProbe"]["httpGet"] == {"path": HEALTH_PATH, "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": READY_PATH, "port": "http"}
    ready = False
    server = ApiServer("127.0.0.1:0", VerdictBoard(), CollectorRegistry(), lambda: ready)
    server.start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        with urllib.request.urlopen(base + HEALTH_PATH, timeout=5) as response:
            assert response.status == 200
        with pytest.raises(urllib.error.HTTPError) as not_ready:
            urllib.request.urlopen(base + READY_PATH, timeout=5)
        assert not_ready.value.code == 503  # a separate probe: alive is not ready
        ready = True
        with urllib.request.urlopen(base + READY_PATH, timeout=5) as response:
            assert response.status == 200
    finally:
        server.stop()


_API_PATH = re.compile(r"^/apis/(?P<group>[^/]+)/[^/]+/namespaces/[^/]+/(?P<resource>[^/]+)/"
                       r"[^/]+(?:/(?P<sub>[^/]+))?$")


def test_rbac_grants_what_the_kubernetes_presets_send() -> None:
    """The Role allows exactly the verb and resource of each service-account webhook preset."""
    rules = _one("Role")["rules"]
    granted = {(g, r, v) for rule in rules for g in rule["apiGroups"]
               for r in rule["resources"] for v in rule["verbs"]}
    needed = set()
    for preset in PRESETS.values():
        if not preset.uses_service_account:
            continue
        match = _API_PATH.match(preset.path)
        assert match, preset.path
        resource = match["resource"] + (f"/{match['sub']}" if match["sub"] else "")
        needed.add((match["group"], resource, preset.method.lower()))
    assert needed == granted
    assert len(needed) == 2  # the Argo abort and the NGINX canary weight
    binding = _one("RoleBinding")
    account = _one("ServiceAccount")["metadata"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account["name"],
                                    "namespace": account["namespace"]}]
    assert binding["roleRef"]["name"] == _one("Role")["metadata"]["name"]
    pod = _one("Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account["name"]


def test_the_token_comes_from_a_secret_by_default() -> None:
    """Deployment and image point server.bearer_token_file at a mounted Secret's token."""
    token_file = _env()["CANARYWATCH_SERVER__BEARER_TOKEN_FILE"]
    assert config_mod.load(environ=_env()).server.bearer_token_file == token_file
    secret = _one("Secret")
    pod = _one("Deployment")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    [mount] = [m for m in _container()["volumeMounts"]
               if token_file.startswith(m["mountPath"] + "/")]
    assert mount["readOnly"] is True
    source = volumes[mount["name"]]["secret"]
    assert source["secretName"] == secret["metadata"]["name"]
    assert token_file.rpartition("/")[2] in secret["stringData"]
    argo = yaml.safe_load((ROOT / "config" / "argo-analysistemplate.yaml").read_text())
    refs = [a["valueFrom"]["secretKeyRef"] for a in argo["spec"]["args"] if "valueFrom" in a]
    assert {"name": secret["metadata"]["name"], "key": "token"} in refs
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"CANARYWATCH_SERVER__BEARER_TOKEN_FILE=/run/secrets/\S+", dockerfile)


def test_the_placeholder_token_is_refused(tmp_path: Path) -> None:
    """The Secret's shipped placeholder is too short to serve: start-up fails naming the key."""
    placeholder = _one("Secret")["stringData"]["token"]
    token = tmp_path / "token"
    token.write_text(placeholder)
    server = config_mod.load(environ={"CANARYWATCH_SERVER__BEARER_TOKEN_FILE": str(token)}).server
    with pytest.raises(ConfigError) as err:
        load_bearer_token(server)
    assert err.value.key == "server.bearer_token_file"

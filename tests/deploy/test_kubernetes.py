"""deploy/kubernetes/gandyn.yaml without a cluster: each manifest has the fields its kind
needs, and they agree with each other (labels, ports, names), with the image (its user, its
health route) and with ``gandyn serve`` (the options parse, the Ingress host is an allowed
origin). Neither kubectl nor a cluster validates them here; see docs/deploy.md."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from server.app import create_app
from server.cli import serve_parser

yaml = pytest.importorskip("yaml", reason="PyYAML comes with schemathesis (a dev dependency)")

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "deploy" / "kubernetes" / "gandyn.yaml"


def manifests() -> dict[str, dict[str, Any]]:
    found = {doc["kind"]: doc for doc in yaml.safe_load_all(MANIFESTS.read_text())}
    assert list(found) == ["Deployment", "Service", "Ingress"]
    return found


def container() -> dict[str, Any]:
    (only,) = manifests()["Deployment"]["spec"]["template"]["spec"]["containers"]
    return only


def test_api_versions_and_names() -> None:
    versions = {kind: doc["apiVersion"] for kind, doc in manifests().items()}
    assert versions == {"Deployment": "apps/v1", "Service": "v1", "Ingress": "networking.k8s.io/v1"}
    for doc in manifests().values():
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", doc["metadata"]["name"])


def test_the_deployment_selects_its_pods_and_the_service_selects_them_too() -> None:
    found = manifests()
    spec = found["Deployment"]["spec"]
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    assert found["Service"]["spec"]["selector"].items() <= labels.items()
    assert spec["replicas"] >= 2


def test_service_and_ingress_reach_the_container_port() -> None:
    found = manifests()
    ports = {port["name"]: port["containerPort"] for port in container()["ports"]}
    assert ports == {"http": 8000}  # the image's EXPOSE and ENTRYPOINT port
    (service_port,) = found["Service"]["spec"]["ports"]
    assert service_port["targetPort"] in ports
    (rule,) = found["Ingress"]["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    assert path["path"] == "/" and path["pathType"] == "Prefix"
    backend = path["backend"]["service"]
    assert backend["name"] == found["Service"]["metadata"]["name"]
    assert backend["port"] == {"name": service_port["name"]}


def test_probes_ask_a_real_route_on_the_named_port() -> None:
    routes = {getattr(route, "path", None) for route in create_app().routes}
    for probe in ("readinessProbe", "livenessProbe"):
        check = container()[probe]["httpGet"]
        assert check == {"path": "/api/health", "port": "http"} and check["path"] in routes


def pod_name() -> str:
    """The longest name the Deployment gives a pod: NAME-HASH-XXXXX (a pod-template hash of
    up to 10 characters, a suffix of 5)."""
    return f"{manifests()['Deployment']['metadata']['name']}-{'7' * 10}-x2k7q"


def test_the_options_parse_and_allow_the_ingress_host() -> None:
    env = {item["name"]: item for item in container()["env"]}
    assert env["FORWARDED_ALLOW_IPS"]["value"] == "*"
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    args = [arg.replace("$(POD_NAME)", pod_name()) for arg in container()["args"]]
    options = serve_parser().parse_args(args)  # a pod name --replica refuses: exit 2
    assert options.replica == pod_name()  # each pod names its session ids
    (rule,) = manifests()["Ingress"]["spec"]["rules"]
    assert options.allow_origin == [f"https://{rule['host']}"]
    cpus = int(container()["resources"]["requests"]["cpu"])
    assert options.workers == cpus  # one worker per CPU the pod gets


def test_pods_run_as_the_images_user() -> None:
    security = manifests()["Deployment"]["spec"]["template"]["spec"]["securityContext"]
    uid = re.search(r"useradd .*--uid (\d+) gandyn", (ROOT / "Dockerfile").read_text())
    assert uid and security == {"runAsNonRoot": True, "runAsUser": int(uid.group(1))}


def test_ingress_nginx_keeps_a_page_on_its_pod() -> None:
    ingress = manifests()["Ingress"]
    assert ingress["spec"]["ingressClassName"] == "nginx"
    notes = ingress["metadata"]["annotations"]
    prefix = "nginx.ingress.kubernetes.io/"
    assert notes[prefix + "affinity"] == "cookie"
    assert notes[prefix + "affinity-mode"] == "persistent"
    assert int(notes[prefix + "proxy-read-timeout"]) >= 3600
    assert all(isinstance(value, str) for value in notes.values()), "annotations are strings"

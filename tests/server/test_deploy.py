"""What can be checked of Dockerfile and docker-compose.yml without a Docker engine.

Most tests read the two files' text and check it against the code (the options parse, the
health route exists, the torch pin satisfies pyproject.toml). Two run what the image runs:
the ENTRYPOINT's ``gandyn serve`` options start a server here, and the HEALTHCHECK's command
passes against it and fails where nothing answers. No image is built or run: the base
image, pip's resolution inside it and the container's user are not tested."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ServerProcess
from packaging.requirements import Requirement

from server.app import create_app
from server.cli import serve_parser

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
COMPOSE = (ROOT / "docker-compose.yml").read_text()


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    lines = [line.strip() for line in joined.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def exec_form(arguments: str) -> list[str]:
    return json.loads(arguments[arguments.index("[") :])


def stages() -> list[list[tuple[str, str]]]:
    """The instructions of each stage (each FROM starts one)."""
    found: list[list[tuple[str, str]]] = []
    for kind, args in instructions():
        if kind == "FROM":
            found.append([])
        found[-1].append((kind, args))
    return found


def test_a_build_stage_then_cpu_torch_before_the_wheel_in_the_image() -> None:
    build, image = stages()
    assert build[0] == ("FROM", "python:3.11-slim AS build")
    assert image[0] == ("FROM", "python:3.11-slim")
    runs = [args for kind, args in image if kind == "RUN"]
    torch_at = next(i for i, args in enumerate(runs) if "torch==2.13.0" in args)
    assert "--index-url https://download.pytorch.org/whl/cpu" in runs[torch_at]
    package_at = next(i for i, args in enumerate(runs) if "pip install /dist/gandyn-" in args)
    assert torch_at < package_at
    copies = [args for kind, args in image if kind == "COPY"]
    assert copies == ["--from=build /dist /dist"], "the image gets the wheel, no source tree"


def test_the_server_runs_as_a_user_made_for_it() -> None:
    (_, image) = stages()
    users = [args for kind, args in image if kind == "USER"]
    assert users == ["gandyn"]
    assert any("useradd" in args and " gandyn" in args for kind, args in image if kind == "RUN")


def test_entrypoint_serves_on_all_interfaces_with_valid_options() -> None:
    steps = dict(instructions())
    command = exec_form(steps["ENTRYPOINT"]) + exec_form(steps["CMD"])
    assert command[:2] == ["gandyn", "serve"]
    options = serve_parser().parse_args(command[2:])
    assert options.host == "0.0.0.0" and options.port == 8000
    assert steps["EXPOSE"] == "8000"


def test_the_pinned_torch_satisfies_the_package_requirement() -> None:
    (pin,) = re.findall(r"torch==([\w.]+)", DOCKERFILE)
    pyproject = (ROOT / "pyproject.toml").read_text()
    (spec,) = [Requirement(r) for r in re.findall(r'"(torch[^"]*)"', pyproject)]
    assert spec.specifier.contains(pin), f"torch {pin} does not satisfy {spec}"


def healthcheck_command() -> list[str]:
    steps = dict(instructions())
    return exec_form(steps["HEALTHCHECK"].split(" CMD ", 1)[1])


def run_healthcheck(port: int) -> int:
    """The HEALTHCHECK's command with this interpreter, pointed at ``port`` instead of 8000."""
    python, *args = healthcheck_command()
    assert python == "python"
    args = [arg.replace("127.0.0.1:8000", f"127.0.0.1:{port}") for arg in args]
    return subprocess.run([sys.executable, *args], timeout=30, check=False).returncode


def test_the_entrypoint_serves_and_the_healthcheck_passes_against_it(tmp_path: Path) -> None:
    steps = dict(instructions())
    command = exec_form(steps["ENTRYPOINT"]) + exec_form(steps["CMD"])
    options = vars(serve_parser().parse_args(command[2:]))
    assert options["port"] == 8000  # here port 0 (any free port), the rest as in the image
    server = ServerProcess({"host": options["host"]}, tmp_path / "server.log")
    try:
        port = int(server.url.rsplit(":", 1)[1])
        assert run_healthcheck(port) == 0
    finally:
        server.stop()
    assert run_healthcheck(port) != 0  # nothing answers there now


def health_paths() -> list[str]:
    return re.findall(r"https?://[\w.]+:8000(/[\w/]+)", DOCKERFILE + COMPOSE)


def test_healthchecks_probe_a_real_route() -> None:
    assert "HEALTHCHECK" in DOCKERFILE and "healthcheck:" in COMPOSE
    routes = {getattr(route, "path", None) for route in create_app().routes}
    assert health_paths() and set(health_paths()) <= routes
    assert set(health_paths()) == {"/api/health"}


def compose() -> dict:
    """docker-compose.yml parsed (PyYAML comes with schemathesis, a dev dependency)."""
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load(COMPOSE)


def replica_services() -> dict[str, dict]:
    return {name: s for name, s in compose()["services"].items() if name != "nginx"}


def test_compose_replicas_are_named_as_nginx_routes_them() -> None:
    assert "\t" not in COMPOSE, "YAML forbids tabs"
    replicas = replica_services()
    assert len(replicas) >= 2
    upstreams = (ROOT / "deploy" / "nginx" / "compose.conf").read_text()
    new = re.search(r"upstream gandyn_new \{(.*?)\}", upstreams, re.S)
    assert new and "least_conn;" in new.group(1)
    assert set(re.findall(r"server ([\w-]+):8000;", new.group(1))) == set(replicas)
    for name, service in replicas.items():
        options = serve_parser().parse_args(service["command"])
        assert options.replica == name
        assert f"upstream gandyn_replica_{name} {{\n    server {name}:8000;\n}}" in upstreams
        assert "ports" not in service, "only nginx reaches a replica"
        assert service["environment"]["FORWARDED_ALLOW_IPS"] == "*"
        assert "./plugins:/plugins:ro" in service["volumes"]
    for example in re.findall(r"^    # command: (\[.*\])$", COMPOSE, re.M):
        assert "/plugins/" in example
        serve_parser().parse_args(json.loads(example))


def test_compose_nginx_publishes_the_origin_the_replicas_allow() -> None:
    nginx = compose()["services"]["nginx"]
    (published,) = nginx["ports"]
    host, port, inner = published.split(":")
    assert (host, inner) == ("127.0.0.1", "80")
    upstreams = (ROOT / "deploy" / "nginx" / "compose.conf").read_text()
    assert re.search(r"^    listen 80;$", upstreams, re.M)
    for service in replica_services().values():
        assert (
            f"http://localhost:{port}" in serve_parser().parse_args(service["command"]).allow_origin
        )
    mounts = dict(volume.rsplit(":", 1)[0].split(":") for volume in nginx["volumes"])
    assert mounts["./deploy/nginx/compose.conf"] == "/etc/nginx/conf.d/default.conf"
    assert f"include {mounts['./deploy/nginx/gandyn.conf']};" in upstreams
    assert all((ROOT / source).is_file() for source in mounts)


@pytest.mark.parametrize("name", ["server", "gan_core", "web", "pyproject.toml"])
def test_the_build_context_keeps_what_the_image_needs(name: str) -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert name not in ignored
    assert {".venv", ".git"} <= set(ignored)
    assert (ROOT / name).exists()


def test_no_shell_form_for_the_long_running_process() -> None:
    steps = dict(instructions())
    assert steps["ENTRYPOINT"].startswith("["), "exec form, so Ctrl-C and docker stop reach it"
    assert shlex.split(steps["HEALTHCHECK"])[0] == "--interval=30s"

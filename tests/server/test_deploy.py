"""What can be checked of Dockerfile and docker-compose.yml without a Docker engine."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

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


def test_base_image_and_cpu_torch_installed_before_the_package() -> None:
    steps = instructions()
    assert steps[0] == ("FROM", "python:3.11-slim")
    runs = [args for kind, args in steps if kind == "RUN"]
    torch_at = next(i for i, args in enumerate(runs) if "torch==2.13.0" in args)
    assert "--index-url https://download.pytorch.org/whl/cpu" in runs[torch_at]
    package_at = next(i for i, args in enumerate(runs) if re.search(r"pip install (-e )?\.", args))
    assert torch_at < package_at


def test_entrypoint_serves_on_all_interfaces_with_valid_options() -> None:
    steps = dict(instructions())
    command = exec_form(steps["ENTRYPOINT"]) + exec_form(steps["CMD"])
    assert command[:2] == ["gandyn", "serve"]
    options = serve_parser().parse_args(command[2:])
    assert options.host == "0.0.0.0" and options.port == 8000
    assert steps["EXPOSE"] == "8000"


def health_paths() -> list[str]:
    return re.findall(r"https?://[\w.]+:8000(/[\w/]+)", DOCKERFILE + COMPOSE)


def test_healthchecks_probe_a_real_route() -> None:
    assert "HEALTHCHECK" in DOCKERFILE and "healthcheck:" in COMPOSE
    routes = {getattr(route, "path", None) for route in create_app().routes}
    assert health_paths() and set(health_paths()) <= routes
    assert set(health_paths()) == {"/api/health"}


def test_compose_publishes_the_port_and_mounts_plugins() -> None:
    assert "\t" not in COMPOSE, "YAML forbids tabs"
    assert re.search(r'^\s+- "(127\.0\.0\.1:)?\d+:8000"$', COMPOSE, re.M)
    assert re.search(r"^\s+- \./plugins:/plugins(:ro)?$", COMPOSE, re.M)
    assert 'VOLUME ["/plugins"]' in DOCKERFILE
    command = re.search(r"^    command: (\[.*\])$", COMPOSE, re.M)
    assert command, "compose passes options to gandyn serve"
    serve_parser().parse_args(json.loads(command.group(1)))
    for example in re.findall(r"^    # command: (\[.*\])$", COMPOSE, re.M):
        assert "/plugins/" in example
        serve_parser().parse_args(json.loads(example))


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

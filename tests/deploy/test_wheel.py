"""The wheel as a new user gets it: built from the sources the Dockerfile copies, installed
into a fresh venv (torch first, as the Makefile does), served from an empty directory.

The venv is really fresh (no --system-site-packages). ``pip install --no-compile
torch==2.13.0`` took 18 s here (49 s when pip compiles every .pyc; the CPU wheel lies on this
machine, pip's index is local) and the whole test 51 s, at a load average of 3 to 5 on 2
cores. ``-m "not slow"`` skips it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest
from conftest import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
# What the Dockerfile's build stage copies, and the command it builds the wheel with
# (tests/server/test_deploy.py holds the Dockerfile to both).
BUILD_SOURCES = ("pyproject.toml", "README.md", "gan_core", "server", "web")
WHEEL_COMMAND = ("pip", "wheel", "--no-deps", "--wheel-dir")
TORCH = "torch==2.13.0"  # the Makefile's pin
MODULE_IMPORT = re.compile(r"""(?:\bfrom\s*|\bimport\s*\(?\s*)["'](\.{1,2}/[^"']+)["']""")
# The venv's programs see none of the source tree (the suite runs with PYTHONPATH at it).
VENV_ENV = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
PAGE_LINK = re.compile(r"""<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]+)\"""")


class InstalledServer(ServerProcess):
    """``gandyn serve --port 0`` of an installed package, started in ``cwd``."""

    def __init__(self, gandyn: Path, cwd: Path, log: Path) -> None:
        with log.open("wb") as sink:
            self.process = subprocess.Popen(
                [str(gandyn), "serve", "--port", "0", "--workers", "1"],
                cwd=cwd,
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=VENV_ENV,
            )
        self.options = {"installed": str(gandyn)}
        self.log = log
        self._url = None


def build_wheel(src: Path, dist: Path, python: Path) -> Path:
    """The Dockerfile's build stage: copy the sources, ``pip wheel`` them."""
    src.mkdir()
    for name in BUILD_SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, src / name)
    pip(python, *WHEEL_COMMAND[1:], str(dist), ".", cwd=src)
    (wheel,) = dist.glob("gandyn-*.whl")
    return wheel


def pip(python: Path, *args: str, cwd: Path | None = None) -> None:
    command = [str(python), "-m", "pip", "--quiet", *args]
    subprocess.run(command, cwd=cwd, env=VENV_ENV, check=True, timeout=600)


def run_installed(program: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(program), *args], cwd=cwd, env=VENV_ENV, capture_output=True, text=True, timeout=120
    )


def page_assets(base: str, client: httpx.Client) -> dict[str, httpx.Response]:
    """The page and everything it loads: its scripts and stylesheets, and every module those
    scripts import, followed import by import."""
    fetched: dict[str, httpx.Response] = {}
    index = client.get(base + "/")
    fetched[base + "/"] = index
    todo = [urljoin(base + "/", link) for link in PAGE_LINK.findall(index.text)]
    todo = [url for url in todo if url.startswith(base)]
    while todo:
        url = todo.pop()
        if url in fetched:
            continue
        response = fetched[url] = client.get(url)
        if url.endswith(".js") and response.status_code == 200:
            todo += [urljoin(url, name) for name in MODULE_IMPORT.findall(response.text)]
    return fetched


@pytest.mark.slow
def test_the_installed_wheel_serves_the_whole_lab_from_any_directory(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python, gandyn = venv / "bin" / "python", venv / "bin" / "gandyn"
    wheel = build_wheel(tmp_path / "src", tmp_path / "dist", python)
    pip(python, "install", "--no-compile", TORCH)  # no .pyc up front: 3 times faster here
    pip(python, "install", "--no-compile", str(wheel))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    found = run_installed(
        python, "-c", "import server.app; print(server.app.WEB_DIR)", cwd=elsewhere
    )
    assert Path(found.stdout.strip()).is_relative_to(venv), found.stdout + found.stderr

    server = InstalledServer(gandyn, elsewhere, tmp_path / "server.log")
    try:
        with httpx.Client(timeout=30) as client:
            assets = page_assets(server.url, client)
            schema = client.get(server.url + "/api/schema")
    finally:
        server.stop()
    missing = {url: r.status_code for url, r in assets.items() if r.status_code != 200}
    assert not missing, f"the installed server does not serve: {missing}"
    names = {url.rsplit("/", 1)[1] for url in assets}
    assert {"", "styles.css", "plotly.min.js", "app.js", "socket.js", "theme.js"} <= names
    assert len([n for n in names if n.endswith(".js")]) >= 10  # the modules app.js imports
    assert schema.status_code == 200 and "config" in schema.json()
    assert "only the API is served" not in server.log.read_text()

    # the headless run works from the wheel; bench says it is for a source checkout
    out = elsewhere / "run.json"
    run = run_installed(
        gandyn,
        "run",
        "--preset",
        "dirac_gan",
        "--steps",
        "20",
        "--out",
        str(out),
        "--quiet",
        cwd=elsewhere,
    )
    assert run.returncode == 0 and out.stat().st_size > 0, run.stderr
    bench = run_installed(gandyn, "bench", cwd=elsewhere)
    assert bench.returncode == 2
    assert "a development command" in bench.stderr and "source checkout" in bench.stderr


def dockerfile_build_stage() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    steps = [line.split(None, 1) for line in text.splitlines() if line.strip()]
    steps = [(kind.upper(), args) for kind, args in steps if not kind.startswith("#")]
    second_from = [i for i, (kind, _) in enumerate(steps) if kind == "FROM"][1]
    return steps[:second_from]


def test_the_dockerfile_builds_the_wheel_as_this_test_does() -> None:
    build = dockerfile_build_stage()
    copied = [name for kind, args in build if kind == "COPY" for name in args.split()[:-1]]
    assert tuple(copied) == BUILD_SOURCES
    runs = [args for kind, args in build if kind == "RUN"]
    assert runs == [" ".join(WHEEL_COMMAND) + " /dist ."]

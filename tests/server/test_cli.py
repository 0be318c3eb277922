"""The gandyn command line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ServerProcess, get_json, template_pids, wait_until, worker_pids

from server.cli import main, serve_parser

ROOT = Path(__file__).resolve().parents[2]


def test_help_and_unknown_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "serve" in capsys.readouterr().out
    assert main(["fly"]) == 2
    assert "usage: gandyn" in capsys.readouterr().err
    assert main([]) == 2


def test_serve_options_and_defaults() -> None:
    options = serve_parser().parse_args([])
    assert (options.host, options.port, options.grace) == ("127.0.0.1", 8000, 60.0)
    argv = ["--plugin", "a.py", "--plugin", "b.py"]
    argv += ["--allow-origin", "http://x:1", "--max-sessions", "3"]
    options = serve_parser().parse_args(argv)
    assert options.plugin == ["a.py", "b.py"] and options.allow_origin == ["http://x:1"]
    assert options.max_sessions == 3


def test_serve_refuses_bad_options_with_a_message(
    capsys: pytest.CaptureFixture[str], tmp_path
) -> None:
    assert main(["serve", "--max-sessions", "0"]) == 2
    assert "--max-sessions must be from 1 to 4096, got 0" in capsys.readouterr().err
    missing = tmp_path / "nope.py"
    assert main(["serve", "--plugin", str(missing)]) == 2
    assert "cannot load plug-in" in capsys.readouterr().err


def test_run_and_bench_are_wired_in_the_source_tree(capsys: pytest.CaptureFixture[str]) -> None:
    """Here bench/ sits next to server/ (the source tree), so ``gandyn bench`` runs."""
    assert (ROOT / "bench" / "__main__.py").is_file()
    for command in ("run", "bench"):
        with pytest.raises(SystemExit) as exited:
            main([command, "--help"])
        assert exited.value.code == 0
        assert f"gandyn {command}" in capsys.readouterr().out


def test_without_the_source_tree_bench_says_what_it_needs(tmp_path: Path) -> None:
    """An installed gandyn has server/ and gan_core/ only (pyproject.toml's packages): there
    ``gandyn run`` works and ``gandyn bench`` exits 2 saying it needs the source tree."""
    for package in ("server", "gan_core"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("*.pyc"))
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}

    def gandyn(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-c", "import sys; from server.cli import main; "
                   f"sys.exit(main({list(args)!r}))"]  # fmt: skip
        return subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )

    bench = gandyn("bench", "--help")
    assert bench.returncode == 2
    assert "gandyn bench: needs the source tree (bench/ next to server/)" in bench.stderr
    run = gandyn("run", "--preset", "dirac_gan", "--steps", "5", "--quiet")
    assert run.returncode == 0 and "lane 1 GAN (non-saturating): iteration 5 |" in run.stdout


def test_bench_only_replaces_its_own_sections_of_the_results() -> None:
    from bench.__main__ import MARK, results, sections_of

    def section(name: str, figure: str) -> str:
        return MARK.format(name) + f"## {name}\n\nMeasured then.\n\n| {figure} |\n"

    previous = results({n: section(n, "old") for n in ("bench_engine", "bench_server")}, "")
    merged = results({"bench_server": section("bench_server", "new")}, previous)
    assert merged.startswith("# Benchmark results")
    assert sections_of(merged) == {
        "bench_engine": section("bench_engine", "old"),
        "bench_server": section("bench_server", "new"),
    }
    assert merged.index("## bench_engine") < merged.index("## bench_server")


@pytest.mark.parametrize("ending", ["terminate", "kill"])
def test_the_worker_processes_end_with_the_server(ending: str, tmp_path: Path) -> None:
    """Stopped (SIGTERM) or killed, the server leaves no worker process behind: a worker
    returns when its pipe closes."""
    server = ServerProcess({"workers": 2}, tmp_path / "server.log")
    health = get_json(server.url + "/api/health")
    assert health["workers"] == 2 and all(w["ready"] for w in health["worker_details"])
    workers = worker_pids(server.process.pid)
    assert sorted(workers) == sorted(w["pid"] for w in health["worker_details"])
    template = template_pids(server.process.pid)
    assert len(template) == 1
    getattr(server.process, ending)()
    server.process.wait(timeout=30)
    wait_until(lambda: all(map(ended, workers + template)), 30, "every worker process ended")


def ended(pid: int) -> bool:
    """Gone, or a zombie that nobody has reaped yet (an orphan in a container without init)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True

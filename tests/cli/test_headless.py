"""`gandyn run`: headless training from a preset or a config file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SMALL = {"g_hidden": [32, 32], "d_hidden": [32, 32], "batch_size": 64}


def gandyn(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "server.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_run_from_a_config_writes_history_and_prints_a_summary(tmp_path: Path) -> None:
    config = tmp_path / "run.json"
    config.write_text(json.dumps({**SMALL, "dataset": "ring8"}))
    out = tmp_path / "history.json"
    done = gandyn(
        "run", "--config", str(config), "--steps", "60", "--eval-every", "20", "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    assert "iteration 60" in done.stdout and "modes" in done.stdout and "W1" in done.stdout
    assert "60/60" in done.stderr  # the progress bar
    (lane,) = json.loads(out.read_text())["lanes"]  # a config alone is one lane
    assert [r["iteration"] for r in lane["history"]] == [20, 40, 60]
    assert lane["config"]["g_hidden"] == [32, 32] and lane["forked"] is None
    assert {"w1", "w1_floor", "modes_covered", "d_loss", "g_loss"} <= set(lane["history"][-1])


def test_run_a_preset_quietly_runs_every_lane() -> None:
    done = gandyn("run", "--preset", "dirac_gan", "--steps", "20", "--quiet")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 4 and done.stderr == ""  # plain, R1, instance noise, WGAN
    assert lines[0].startswith("lane 1 ") and all("iteration 20" in line for line in lines)


def test_a_preset_run_starts_its_lanes_as_the_page_does(tmp_path: Path) -> None:
    """saturated_discriminator trains D alone 300 times first, then forks the WGAN-GP lane
    from that state: after one iteration lane 1's D loss is about 3e-7 (1.18 without the
    warm-up), and lane 2 carries the same warm-up and its patch in its log."""
    out = tmp_path / "history.json"
    args = ["--steps", "1", "--eval-every", "1", "--quiet", "--out", str(out)]
    done = gandyn("run", "--preset", "saturated_discriminator", *args)
    assert done.returncode == 0, done.stderr
    minimax, wgan_gp = json.loads(out.read_text())["lanes"]
    assert minimax["commands"] == [[0, "step_d", {"n": 300}]]
    assert minimax["history"][-1]["d_loss"] < 1e-3
    assert wgan_gp["forked"]["lane"] == 1 and wgan_gp["forked"]["at"] == 0
    assert wgan_gp["commands"][0] == [0, "step_d", {"n": 300}]
    assert wgan_gp["config"]["loss"] == "wgan" and wgan_gp["history"][-1]["iteration"] == 1
    assert "lane 2 WGAN-GP, lambda 10: iteration 1" in done.stdout


def test_bad_config_names_the_field_and_exits_non_zero(tmp_path: Path) -> None:
    config = tmp_path / "bad.json"
    config.write_text(json.dumps({"opt_d": {"lr": 50}}))
    done = gandyn("run", "--config", str(config))
    assert done.returncode == 2
    assert "opt_d.lr" in done.stderr and "less than or equal to 10" in done.stderr


def test_unknown_preset_and_missing_file_say_what_is_wrong(tmp_path: Path) -> None:
    done = gandyn("run", "--preset", "nope")
    assert done.returncode == 2 and "unknown preset 'nope'" in done.stderr
    done = gandyn("run", "--config", str(tmp_path / "missing.json"))
    assert done.returncode == 2 and "cannot load" in done.stderr and "missing.json" in done.stderr


def test_diverging_run_exits_with_the_halt_message(tmp_path: Path) -> None:
    sgd = {"name": "sgd", "lr": 10.0}
    config = tmp_path / "wild.json"
    config.write_text(
        json.dumps({**SMALL, "loss": "lsgan", "regularizers": [], "opt_d": sgd, "opt_g": sgd})
    )
    done = gandyn("run", "--config", str(config), "--steps", "300", "--quiet")
    assert done.returncode == 1
    assert "diverged" in done.stderr and "Lower the learning rate" in done.stderr


def test_plugin_loss_is_usable_headless(tmp_path: Path) -> None:
    plugin = tmp_path / "mine.py"
    plugin.write_text(
        "from gan_core import register_loss\n\n"
        "@register_loss('negated_wgan_for_cli')\n"
        "class Negated:\n"
        "    '''WGAN with the sign convention flipped.\n\n    L_D = E[D(x)] - E[D(G(z))]'''\n"
        "    def d_loss(real, fake):\n        return real.mean() - fake.mean()\n"
        "    def g_loss(real, fake):\n        return fake.mean()\n"
    )
    config = tmp_path / "run.json"
    config.write_text(json.dumps({**SMALL, "loss": "negated_wgan_for_cli"}))
    done = gandyn(
        "run", "--plugin", str(plugin), "--config", str(config), "--steps", "10", "--quiet"
    )
    assert done.returncode == 0, done.stderr
    assert gandyn("run", "--config", str(config), "--steps", "10").returncode == 2

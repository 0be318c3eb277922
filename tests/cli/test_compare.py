"""`gandyn compare`: a grid of configs over seeds, headless, in worker processes."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from server.compare import main
from server.presets import PRESETS, start_run

SMALL = {"g_hidden": [16, 16], "d_hidden": [16, 16], "batch_size": 32}
METRICS = {"w1", "w1_floor", "modes_covered", "high_quality", "kl", "js"}


def compare(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "server.compare", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)


def base(tmp_path: Path, **overrides: object) -> str:
    path = tmp_path / "base.json"
    path.write_text(json.dumps({**SMALL, **overrides}))
    return str(path)


def test_a_tiny_grid_writes_the_documented_json_csv_and_table(tmp_path: Path) -> None:
    out, table = tmp_path / "results.json", tmp_path / "results.csv"
    argv = ["--config", base(tmp_path), "--vary", "regularizers=gp,r1:2", "--seeds", "2"]
    done = compare(*argv, "--steps", "20", "--jobs", "2", "--out", str(out), "--csv", str(table))
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert result["command"].startswith("gandyn compare --config ")
    assert "cores" in result["machine"] and result["steps"] == 20
    gp, r1 = result["rows"]
    assert (gp["label"], r1["label"]) == ("regularizers=gp", "regularizers=r1:2")
    assert gp["config"]["regularizers"] == [{"kind": "gp", "weight": 0.1}]  # gp's default
    assert r1["config"]["regularizers"] == [{"kind": "r1", "weight": 2.0}]
    for row in result["rows"]:
        assert row["seeds"] == 2 and row["diverged"] == 0 and row["halts"] == []
        assert set(row["metrics"]) == METRICS
        assert all(set(stat) == {"mean", "sd"} for stat in row["metrics"].values())
        assert row["metrics"]["w1"]["sd"] > 0  # two different seeds, not one run twice
    assert gp["metrics"]["w1"]["mean"] != r1["metrics"]["w1"]["mean"]
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("| config | seeds | diverged | W1 |")
    assert lines[2].startswith("| regularizers=gp | 2 | 0 | ")
    assert " of 8 |" in lines[2]
    assert "4/4" in done.stderr  # the progress bar
    rows = list(csv.DictReader(table.open()))
    assert [r["label"] for r in rows] == ["regularizers=gp", "regularizers=r1:2"]
    assert float(rows[0]["w1_mean"]) == pytest.approx(gp["metrics"]["w1"]["mean"])


def test_a_diverged_seed_is_counted_and_left_out_of_the_means(tmp_path: Path) -> None:
    sgd = {"name": "sgd", "lr": 1e-4}
    config = base(tmp_path, loss="lsgan", regularizers=[], opt_g=sgd, opt_d=sgd)
    out = tmp_path / "results.json"
    argv = ["--config", config, "--vary", "opt_d.lr=10,0.0001", "--seeds", "1", "--steps", "50"]
    done = compare(*argv, "--jobs", "2", "--quiet", "--out", str(out))
    assert done.returncode == 0, done.stderr
    wild, calm = json.loads(out.read_text())["rows"]
    assert wild["label"] == "opt_d.lr=10" and wild["diverged"] == 1 and wild["metrics"] == {}
    assert wild["halts"][0]["kind"] == "diverged" and wild["halts"][0]["seed"] == 0
    assert calm["diverged"] == 0 and set(calm["metrics"]) == METRICS
    assert calm["metrics"]["w1"]["sd"] is None  # one seed: no spread to report
    assert "| opt_d.lr=10 | 1 | 1 | - |" in done.stdout


@pytest.mark.parametrize(
    ("vary", "words"),
    [
        ("loss=wgan,nope", "--vary loss=nope: loss: unknown loss 'nope'; allowed: minimax"),
        ("opt_d.lrr=1", "opt_d has no option 'lrr'; allowed: name, lr, betas, momentum"),
        ("colour=red", "the config has no option 'colour'; allowed: dataset, target"),
        ("d_steps.x=1", "d_steps has no sub-options"),
        ("regularizers=gp,nope", "unknown regularizer 'nope'; allowed: weight_clip"),
        ("regularizers=gp:lots", "weight of 'gp:lots' is not a number"),
        ("opt_d.lr=100", "--vary opt_d.lr=100: opt_d.lr: Input should be less than or equal"),
        ("loss", "write KEY=V1,V2"),
    ],
)
def test_bad_vary_names_the_key_and_what_is_allowed(vary, words, capsys) -> None:
    assert main(["--vary", vary, "--seeds", "1", "--steps", "1"]) == 2  # before any training
    assert words in capsys.readouterr().err


def test_a_preset_warm_up_is_applied_to_every_seed_as_the_page_applies_it() -> None:
    torch.set_num_threads(1)
    preset = PRESETS["js_blind_to_distance"]
    trainer = start_run(preset.config | {"d_hidden": [8]}, "js_blind_to_distance")
    assert trainer.commands == [(0, "step_d", {"n": n}) for part, n in preset.warmup]
    assert trainer.iteration == 0


def test_a_preset_with_lanes_gives_a_row_per_lane_from_one_start(tmp_path: Path) -> None:
    """js_blind_to_distance: three lanes (real data at 4, 2.5, 1) after the same 100 D-only
    steps; each lane is a row, and W1 falls with the distance as the lesson says."""
    out = tmp_path / "results.json"
    done = compare(
        "--preset", "js_blind_to_distance", "--seeds", "1", "--steps", "5", "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert result["warmup"] == [["d", 100]]
    rows = result["rows"]
    titles = [lane.title for lane in PRESETS["js_blind_to_distance"].lanes]
    assert [row["label"] for row in rows] == ["real data at 4", *titles]
    assert all(row["config"]["dataset"] == "separated1d" for row in rows)
    assert [row["config"]["target"]["separation"] for row in rows] == [4.0, 2.5, 1.0]
    assert all(set(row["metrics"]) == METRICS and row["modes_total"] == 1 for row in rows)
    w1 = [row["metrics"]["w1"]["mean"] for row in rows]
    assert w1[0] > w1[1] > w1[2]
    assert done.stdout.splitlines()[2].startswith("| real data at 4 | 1 | 0 | ")

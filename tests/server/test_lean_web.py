"""The web process runs without torch (nor scipy); the workers train as before.

Losses and regularizers are declared in torch-free modules (gan_core.loss_specs,
gan_core.regularizer_specs) and implemented in torch modules (gan_core.losses,
gan_core.regularizers) under the declared names: the checks here that the two agree are
what keeps them one list. A real ``gandyn serve`` with a plug-in whose functions import
torch only when they run: its web process maps no torch library, its workers do, and the
plug-in's loss and regularizer are in the page's schema and train.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Client, ServerFactory, get_json, worker_pids, ws_url
from websockets.sync.client import connect

from gan_core import LOSSES, REGULARIZERS
from gan_core.loss_specs import LOSS_CODE, implement_loss, labels_of
from gan_core.losses import bce
from gan_core.regularizer_specs import REGULARIZER_CODE, implement_regularizer

HEAVY = ("torch", "scipy")  # what the web process must not import

PLUGIN = '''
"""A plug-in that keeps the web process torch-free: torch is imported inside the function."""

from pydantic import BaseModel, ConfigDict, Field

from gan_core import register_loss, register_regularizer


@register_loss("lazy_softhinge", shows_probability=False)
class LazySoftHinge:
    """A smooth hinge loss, from a plug-in.

    L_D = E[softplus(1 - D(x))] + E[softplus(1 + D(G(z)))];  L_G = -E[D(G(z))]
    """

    def d_loss(real, fake):
        import torch.nn.functional as F

        return F.softplus(1 - real).mean() + F.softplus(1 + fake).mean()

    def g_loss(real, fake):
        return -fake.mean()


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    centre: float = Field(0.0, ge=-1.0, le=1.0, description="where D's real scores are pulled")


@register_regularizer("lazy_pull", weight=0.1, weight_range=(0.0, 1.0), params=Params)
class LazyPull:
    """D's real scores pulled to a centre, from a plug-in.

    lambda * E[(D(x) - c)^2]
    """

    def penalty(d, real, fake, s, rng):
        return s.weight * (d(real) - s.centre).pow(2).mean()
'''


def mapped_files(pid: int) -> set[str]:
    """The files process ``pid`` has mapped (its shared libraries among them)."""
    lines = Path(f"/proc/{pid}/maps").read_text().splitlines()
    return {line.split(maxsplit=5)[5] for line in lines if len(line.split(maxsplit=5)) == 6}


def heavy_libraries(pid: int) -> set[str]:
    return {path for path in mapped_files(pid) if any(f"/{name}/" in path for name in HEAVY)}


@pytest.fixture(scope="module")
def lean_server(server_factory: ServerFactory, tmp_path_factory: pytest.TempPathFactory):
    plugin = tmp_path_factory.mktemp("lean") / "lazy_plugin.py"
    plugin.write_text(PLUGIN)
    server = server_factory.launch(max_sessions=2, plugin=[str(plugin)])
    server.url  # noqa: B018 (waits until it answers)
    return server


def test_the_web_process_maps_no_torch_and_its_workers_do(lean_server) -> None:
    web = lean_server.process.pid
    workers = worker_pids(web)
    assert workers, "the server has no worker processes"
    assert heavy_libraries(web) == set()
    for worker in workers:  # the same check finds torch where it is loaded
        assert any("libtorch" in path for path in heavy_libraries(worker))


def test_a_torch_free_plugin_is_in_the_schema_and_trains(lean_server) -> None:
    schema = get_json(lean_server.url + "/api/schema")
    losses = {loss["name"]: loss for loss in schema["losses"]}
    regularizers = {reg["name"]: reg for reg in schema["regularizers"]}
    assert losses["lazy_softhinge"]["formula"].startswith("L_D = E[softplus(1 - D(x))]")
    assert "centre" in regularizers["lazy_pull"]["params"]["properties"]
    assert "lazy_softhinge" in schema["config"]["properties"]["loss"]["enum"]
    with connect(ws_url(lean_server.url), compression=None, open_timeout=10) as ws:
        client = Client(ws)
        client.small()
        patch = {"loss": "lazy_softhinge", "regularizers": [{"kind": "lazy_pull", "centre": 0.5}]}
        ack = client.ok("update", patch=patch)
        assert client.ok("step", n=3)["iteration"] == 3
        frame = client.frame(lambda f: f.iteration == 3)
        assert frame.version == ack["version"] and frame.header["display"] == "score"
        refused = client.command(
            "update", patch={"regularizers": [{"kind": "lazy_pull", "centre": 2}]}
        )
        assert refused["type"] == "error" and refused["field"] == "patch.regularizers.0.centre", (
            refused
        )
        client.end()
    assert heavy_libraries(lean_server.process.pid) == set()  # still, after a run


def test_every_declared_loss_and_regularizer_is_implemented() -> None:
    assert LOSS_CODE.missing() == []
    assert REGULARIZER_CODE.missing() == []
    assert LOSSES.names() and REGULARIZERS.names()


def test_the_declared_labels_are_those_the_implementation_has() -> None:
    for loss in LOSSES:
        assert loss.labels == labels_of(loss.label_loss), loss.name
    assert {loss.name for loss in LOSSES if loss.label_loss is bce} >= {"minimax", "nonsaturating"}


def test_an_implementation_needs_a_declaration() -> None:
    with pytest.raises(KeyError, match="'undeclared' is implemented but not declared"):
        implement_loss("undeclared")(type("Undeclared", (), {"d_loss": abs, "g_loss": abs}))
    with pytest.raises(KeyError, match="'undeclared' is implemented but not declared"):
        implement_regularizer("undeclared")(type("Undeclared", (), {"penalty": abs}))


def test_an_implementation_must_agree_with_its_labels() -> None:
    with pytest.raises(
        TypeError, match="'hinge' is declared with labels='own' and NoLabels has no label_loss"
    ):
        implement_loss("hinge")(type("NoLabels", (), {"d_loss": abs, "g_loss": abs}))
    assert LOSSES.get("hinge").label_loss is not None  # the refused class replaced nothing

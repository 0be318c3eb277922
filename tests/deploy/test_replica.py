"""``gandyn serve --replica NAME``: the name a proxy routes by, in every session id."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from conftest import Client

from server.cli import main, serve_parser
from server.sessions import SessionRegistry
from server.settings import Settings

ROUTING = r"^([a-z0-9-]{1,32})\."  # deploy/nginx/gandyn.conf's match of $arg_session


def test_a_replica_names_its_session_ids_as_the_proxy_matches_them() -> None:
    name = serve_parser().parse_args(["--replica", "gandyn-2"]).replica
    registry = SessionRegistry(Settings(replica=name, workers=1))
    ids = {registry.new_id() for _ in range(50)}
    assert len(ids) == 50
    assert {re.match(ROUTING, session).group(1) for session in ids} == {"gandyn-2"}  # type: ignore[union-attr]


def test_without_a_replica_ids_have_no_name_for_a_proxy() -> None:
    assert serve_parser().parse_args([]).replica is None
    registry = SessionRegistry(Settings(workers=1))
    assert not any(re.match(ROUTING, registry.new_id()) for _ in range(50))


@pytest.mark.parametrize("name", ["", "R1", "a.b", "x" * 33, "a_b"])
def test_a_name_the_proxy_could_not_route_is_refused(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--replica", name])
    assert exit_.value.code == 2
    assert (
        "is not a replica name: 1 to 32 lower-case letters, digits or '-'"
        in capsys.readouterr().err
    )


def test_an_unknown_id_of_this_server_says_it_expired(connect_ws: Callable[..., Client]) -> None:
    """The shared test server has no --replica: an id without a name is of its own kind."""
    fresh = connect_ws()
    assert fresh.hello["lost"] is None
    expired = connect_ws(query="session=nosuchtoken")
    assert expired.hello["resumed"] is False and expired.session != "nosuchtoken"
    assert (expired.hello["lost"]["reason"], expired.hello["lost"]["replica"]) == (
        "expired",
        None,
    )
    assert "grace period (60 s)" in expired.hello["lost"]["message"]
    other = connect_ws(query="session=r9.nosuchtoken")
    assert (other.hello["lost"]["reason"], other.hello["lost"]["replica"]) == (
        "replica_gone",
        "r9",
    )
    assert "(replica r9) is gone" in other.hello["lost"]["message"]

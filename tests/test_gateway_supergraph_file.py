"""The committed supergraph (``gateway/supergraph.graphql``) is what composing our subgraphs
gives now: a schema change without ``dief compose`` fails here."""

from __future__ import annotations

from pathlib import Path

from gateway.subgraphs import CANDIDATES, supergraph_in_process
from gateway.supergraph import Supergraph
from services.common.settings import Settings

COMMITTED = Path(__file__).parents[1] / "gateway" / "supergraph.graphql"


def dev_settings() -> Settings:
    """The documented dev host and ports, whatever this machine's environment says."""
    ports = {
        f"{name}_port": Settings.model_fields[f"{name}_port"].default
        for name in CANDIDATES
        if f"{name}_port" in Settings.model_fields
    }
    return Settings(env="dev", host="127.0.0.1", **ports)


def test_the_committed_supergraph_matches_the_subgraphs() -> None:
    composed = supergraph_in_process(dev_settings())
    assert COMMITTED.read_text().rstrip("\n") == composed.rstrip("\n"), (
        "gateway/supergraph.graphql is out of date: run 'dief compose' with the stack "
        "running, or 'dief compose --offline'"
    )


def test_the_committed_supergraph_carries_our_authorisation_directives() -> None:
    supergraph = Supergraph.parse(COMMITTED.read_text())
    assert supergraph.subgraphs["contacts"] == "http://127.0.0.1:8101/graphql"
    assert supergraph.field_directives("Query", "states") == {"policy": [["directory_reader"]]}
    assert supergraph.type_directives("State").get("authenticated") is True
    assert "join__Graph" not in supergraph.api_schema.type_map


def test_dief_compose_check_reports_drift(tmp_path: Path) -> None:
    from services.cli import main

    stale = tmp_path / "supergraph.graphql"
    stale.write_text("schema { query: Query }\n")
    assert main(["compose", "--offline", "--check", "--output", str(stale)]) == 1
    assert main(["compose", "--offline", "--output", str(stale)]) == 0
    assert main(["compose", "--offline", "--check", "--output", str(stale)]) == 0

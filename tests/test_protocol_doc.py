"""`docs/protocol.md` must say what the registry says."""

from pathlib import Path

from server.gateway.protocol_doc import generated_part, render

DOC = Path(__file__).resolve().parent.parent / "docs" / "protocol.md"


def test_protocol_doc_matches_the_registry():
    assert generated_part(DOC) == render(), "docs/protocol.md is stale: run `python -m server protocol-doc`"

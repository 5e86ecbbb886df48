"""`docs/protocol.md` and `docs/asyncapi.yaml` must say what the registry says, and the AsyncAPI document must be valid AsyncAPI 3.0."""

import copy
import json
from pathlib import Path

import jsonschema
import yaml

from server.gateway import asyncapi
from server.gateway.events import registry, unbounded_integers
from server.gateway.protocol_doc import generated_part, render

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_protocol_doc_matches_the_registry():
    assert generated_part(DOCS / "protocol.md") == render(), "docs/protocol.md is stale: run `python -m server protocol-doc`"


def test_asyncapi_document_matches_the_registry():
    assert (DOCS / "asyncapi.yaml").read_text() == asyncapi.dump(asyncapi.render()), (
        "docs/asyncapi.yaml is stale: run `python -m server protocol-doc`"
    )


def test_asyncapi_document_is_valid_asyncapi_3_and_covers_every_event_and_push():
    validator = jsonschema.Draft7Validator(json.loads((DOCS / "schemas" / "asyncapi-3.0.0.json").read_text()))
    document = yaml.safe_load((DOCS / "asyncapi.yaml").read_text())
    assert list(validator.iter_errors(document)) == []
    named = {message["name"] for message in document["components"]["messages"].values()}
    assert set(registry.events) | set(registry.pushes) <= named
    broken = copy.deepcopy(document)
    broken["operations"]["task.create"]["action"] = "publish"
    del broken["info"]
    assert len(list(validator.iter_errors(broken))) >= 2


def test_every_integer_a_client_sends_is_bounded_within_64_bits():
    assert {name: unbounded_integers(spec.payload.model_json_schema()) for name, spec in registry.events.items()} == dict.fromkeys(
        registry.events, []
    )

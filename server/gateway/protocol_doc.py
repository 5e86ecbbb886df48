"""Renders the event reference in `docs/protocol.md` from the registry, so it cannot drift.

The hand-written parts of the document stay as they are; only the text between the
`<!-- registry:start -->` and `<!-- registry:end -->` markers is generated.
"""

import re
from pathlib import Path
from typing import Any

import handlers  # noqa: F401  (registers every event)
import server.pushes  # noqa: F401  (declares every push, the connection-level ones too)
from models import roles
from models.errors import ERROR_CODES
from server.gateway.events import Registry, registry

START, END = "<!-- registry:start -->", "<!-- registry:end -->"
CONSTRAINTS = {
    "minLength": "min length {}",
    "maxLength": "max length {}",
    "pattern": "matches `{}`",
    "minimum": "≥ {}",
    "maximum": "≤ {}",
    "exclusiveMinimum": "> {}",
    "maxItems": "at most {} items",
}


def render(source: Registry = registry) -> str:
    objects: dict[str, dict[str, Any]] = {}
    lines = [START, "", "## Client → server events", ""]
    for spec in sorted(source.events.values(), key=lambda spec: spec.name):
        who = "any signed-in user" if spec.roles == roles.ALL else ", ".join(sorted(spec.roles))
        budget = f"the `{spec.budget}` budget" if spec.budget else "none (reads only)"
        lines += [
            f"### `{spec.name}`",
            "",
            spec.summary,
            "",
            f"Who: {who}.",
            "",
            f"Rate limit: {budget}." + (' Retryable: takes `clientRequestId` (see "Client lifecycle").' if spec.retryable else ""),
            "",
            "Payload:",
            "",
            *_fields(spec.payload.model_json_schema(), objects),
            "",
            "Ack `data`:",
            "",
            *_fields(spec.result.model_json_schema(), objects),
            "",
        ]
    lines += ["## Server → client events", ""]
    for pushed in sorted(source.pushes.values(), key=lambda pushed: pushed.name):
        stored = ["", "Stored as a notification (`notifications:list`)."] if pushed.stored else []
        lines += [f"### `{pushed.name}`", "", pushed.summary, *stored, "", *_fields(pushed.payload.model_json_schema(), objects), ""]
    lines += ["## Objects", ""]
    for name in sorted(objects):
        lines += [f"### {name}", "", *_fields(objects[name], objects), ""]
    lines += ["## Error codes", "", "| code | HTTP status | meaning |", "| --- | --- | --- |"]
    lines += [f"| `{code}` | {status} | {meaning} |" for code, (status, meaning) in ERROR_CODES.items()]
    return "\n".join([*lines, "", END])


def render_into(path: str | Path) -> None:
    path = Path(path)
    text = path.read_text()
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
    path.write_text(pattern.sub(lambda _: render(), text))


def generated_part(path: str | Path) -> str:
    text = Path(path).read_text()
    return text[text.index(START) : text.index(END) + len(END)]


def _fields(schema: dict[str, Any], objects: dict[str, dict[str, Any]]) -> list[str]:
    """A field table; nested object schemas are collected into `objects` for their own section."""
    objects.update(schema.get("$defs", {}))
    properties: dict[str, Any] = schema.get("properties", {})
    if not properties:
        return ["_(empty object)_"]
    required = set(schema.get("required", []))
    rows = ["| field | type | required | notes |", "| --- | --- | --- | --- |"]
    for name, prop in properties.items():
        notes = "; ".join(_constraints(prop) + ([prop["description"]] if "description" in prop else []))
        rows.append(f"| `{name}` | {_type(prop)} | {'yes' if name in required else 'no'} | {notes} |")
    return rows


def _type(prop: dict[str, Any]) -> str:
    if "$ref" in prop:
        return "object " + prop["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in prop:
        return " or ".join(_type(option) for option in prop["anyOf"])
    if "enum" in prop:
        return " \\| ".join(f"`{value!r}`".replace("'", '"') for value in prop["enum"])
    if "const" in prop:
        return f'`"{prop["const"]}"`'
    if prop.get("type") == "array":
        return f"array of {_type(prop.get('items', {}))}"
    return prop.get("type", "any")


def _constraints(prop: dict[str, Any]) -> list[str]:
    found = [template.format(prop[key]) for key, template in CONSTRAINTS.items() if key in prop]
    for option in prop.get("anyOf", []):
        found += _constraints(option)
    if prop.get("type") == "array":
        found += [f"each: {note}" for note in _constraints(prop.get("items", {}))]
    return found

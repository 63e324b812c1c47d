"""`--help` for one command: the settings it reads, each with its value and a one-line description taken from the
comments of the schema (config.py's dataclasses, and each method's Settings for mode.*)."""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
import typing

from omegaconf import DictConfig, OmegaConf

FIELD = re.compile(r"^\s+(\w+)\s*:\s*[^=#]+(?:=[^#]*)?(?:#\s*(?P<comment>.*))?$")
COMMENT = re.compile(r"^\s+#\s?(?P<text>.*)$")


def field_comments(cls) -> dict[str, str]:
    """Each field of a dataclass and the comment that says what it is: the one after it on its line, else the
    comment lines just above it."""
    comments: dict[str, str] = {}
    above: list[str] = []
    for line in inspect.getsource(cls).splitlines()[1:]:
        if match := COMMENT.match(line):
            above.append(match["text"].strip())
        elif match := FIELD.match(line):
            text = match["comment"] or " ".join(above)
            if text:
                comments[match.group(1)] = text
            above = []
        else:
            above = []
    return comments


def descriptions(schema, prefix: str = "") -> dict[str, str]:
    """Dotted key -> description for every field of a (nested) dataclass schema."""
    described: dict[str, str] = {}
    comments: dict[str, str] = {}
    for cls in reversed([cls for cls in schema.__mro__ if dataclasses.is_dataclass(cls)]):
        comments.update(field_comments(cls))  # a field a subclass inherits is described in its base class
    hints = typing.get_type_hints(schema)
    for field in dataclasses.fields(schema):
        key = f"{prefix}{field.name}"
        if field.name in comments:
            described[key] = comments[field.name]
        if dataclasses.is_dataclass(hints.get(field.name)):
            described.update(descriptions(hints[field.name], f"{key}."))
    return described


def one_line(text: str, width: int = 90) -> str:
    """The first sentence of a description, cut to `width` characters."""
    first = re.split(r"(?<=\.)\s", text, maxsplit=1)[0].rstrip(".")
    return first if len(first) <= width else first[: width - 1] + "…"


def shown(value) -> str:
    """A value as it is written on the command line (true, null, [1, 2])."""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def settings_help(cfg, reads: tuple[str, ...], schemas: dict[str, type]) -> str:
    """The settings under `reads` (sections or keys of cfg), one per line: `key=value  description`. `schemas`:
    {prefix: dataclass} for the descriptions ({"": Config, "mode.": the chosen method's Settings})."""
    described: dict[str, str] = {}
    for prefix, schema in schemas.items():
        described.update(descriptions(schema, prefix))
    rows: list[tuple[str, str]] = []

    def add(key: str, node) -> None:
        if isinstance(node, DictConfig):
            for index, name in enumerate(node.keys()):
                if index == 0 and key in described:  # a free dict's keys (task.sizes): its description, once
                    described.setdefault(f"{key}.{name}", described[key])
                add(f"{key}.{name}", node._get_node(name))
            return
        value = OmegaConf.to_container(node) if OmegaConf.is_config(node) else node._value()
        rows.append((f"{key}={shown(value)}", one_line(described.get(key, ""))))

    for key in reads:
        parent, _, name = key.rpartition(".")
        add(key, (OmegaConf.select(cfg, parent) if parent else cfg)._get_node(name))
    width = min(max(len(setting) for setting, _ in rows), 44)
    return "\n".join(f"  {setting:<{width}}  {text}".rstrip() for setting, text in rows)

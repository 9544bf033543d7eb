"""Validation of a study configuration against its JSON schema.

Snakemake's own ``validate`` prints the whole schema and instance on error;
this one lists every problem on one line each, naming the key path, the bad
value, the allowed range and, for a misspelt key, the closest allowed name.
"""

from __future__ import annotations

import difflib
import functools
from pathlib import Path

import jsonschema
import yaml

from scattermorph.errors import ParameterError

__all__ = ["ConfigError", "validate", "load_schema", "SCHEMA", "setting"]

#: the workflow's config schema (the library lives next to it, in workflow/)
SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "config.schema.yaml"


class ConfigError(ParameterError):
    """The configuration does not match the schema."""


def load_schema(path) -> dict:
    with open(path) as fh:
        return yaml.safe_load(fh)


@functools.cache
def _schema() -> dict:
    return load_schema(SCHEMA)


def setting(config: dict, *keys: str):
    """The value of an optional config key, or its default from the schema.

    The schema is the one source of defaults: ``setting(config, "simulation",
    "stabilizer")`` is ``config["simulation"]["stabilizer"]`` if the config
    sets it, else the ``default`` the schema gives that key.

    Raises
    ------
    KeyError
        If the key is absent and the schema gives it no default.
    """
    node = config
    for k in keys[:-1]:
        node = node[k]
    if keys[-1] in node:
        return node[keys[-1]]
    schema = _schema()
    for k in keys:
        schema = schema["properties"][k]
    return schema["default"]


def _path(err) -> str:
    out = ""
    for p in err.absolute_path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "<top level>"


def _allowed(schema: dict) -> str:
    parts = []
    if "enum" in schema:
        parts.append("one of " + ", ".join(repr(v) for v in schema["enum"]))
    lo = schema.get("minimum", schema.get("exclusiveMinimum"))
    hi = schema.get("maximum", schema.get("exclusiveMaximum"))
    if lo is not None or hi is not None:
        left = "[" if "minimum" in schema else "("
        right = "]" if "maximum" in schema else ")"
        lo_s = "-inf" if lo is None else f"{lo:g}"
        hi_s = "inf" if hi is None else f"{hi:g}"
        if lo is None:
            left = "("
        if hi is None:
            right = ")"
        parts.append(f"range {left}{lo_s}, {hi_s}{right}")
    if "multipleOf" in schema:
        parts.append(f"a multiple of {schema['multipleOf']:g}")
    if "type" in schema and not parts:
        parts.append(f"type {schema['type']}")
    return "; ".join(parts)


def _message(err) -> str:
    where = _path(err)
    if err.validator == "additionalProperties":
        allowed = list(err.schema.get("properties", {}))
        extra = [k for k in err.instance if k not in allowed]
        msgs = []
        for key in extra:
            full = f"{where}.{key}" if where != "<top level>" else key
            close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            msgs.append(
                f"{full}: unknown key '{key}' (allowed here: {', '.join(allowed)}){hint}"
            )
        return "\n".join(msgs)
    if err.validator == "required":
        return f"{where}: {err.message}"
    desc = err.schema.get("description", "")
    allowed = _allowed(err.schema)
    text = f"{where} = {err.instance!r}: {err.message}"
    if allowed:
        text += f" (allowed: {allowed})"
    if desc:
        text += f". {desc}"
    return text


def validate(config: dict, schema_path) -> dict:
    """Check ``config`` against the schema at ``schema_path``.

    Raises
    ------
    ConfigError
        Listing every violation, one per line.
    """
    schema = load_schema(Path(schema_path))
    cls = jsonschema.validators.validator_for(schema)
    errors = sorted(cls(schema).iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        lines = "\n  ".join(_message(e) for e in errors)
        raise ConfigError(f"invalid configuration ({len(errors)} problem(s)):\n  {lines}")
    return config

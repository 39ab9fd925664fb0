"""The page's screen form, described from the settings model: each ScanSettings field with its HTTP
parameter, its kind, bounds, choices, default and help. The page builds its controls from this, so a
setting added to config.py shows on the page (and is checked by the same bounds) with nothing restated
in HTML or JavaScript."""

from __future__ import annotations

import enum
import typing

from annotated_types import Ge, Gt, Le, Lt

from technic_assets.config import ScanSettings


def _bounds(metadata) -> dict:
    out = {}
    for rule in metadata:
        if isinstance(rule, (Ge, Gt)):
            out["min"] = rule.ge if isinstance(rule, Ge) else rule.gt
            out["min_exclusive"] = isinstance(rule, Gt)
        elif isinstance(rule, (Le, Lt)):
            out["max"] = rule.le if isinstance(rule, Le) else rule.lt
    return out


def _kind(annotation) -> tuple[str, list | None]:
    """(kind, choices): choice (one of a Literal), list (any of an Enum), flag, integer, number or text."""
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return "choice", list(typing.get_args(annotation))
    if origin is list:
        (item,) = typing.get_args(annotation)
        return "list", [m.value for m in item] if isinstance(item, type) and issubclass(item, enum.Enum) else None
    if annotation is bool:
        return "flag", None
    return {int: "integer", float: "number"}.get(annotation, "text"), None


def form_fields(params: dict[str, str]) -> list[dict]:
    """The form's fields in the model's order; `params` maps each field to its query parameter."""
    fields = []
    for name, info in ScanSettings.model_fields.items():
        kind, choices = _kind(info.annotation)
        default = info.default.value if isinstance(info.default, enum.Enum) else info.default
        fields.append({"field": name, "param": params[name], "kind": kind,
                       "label": info.title or name.replace("_", " "), "help": info.description or "",
                       "default": default, **_bounds(info.metadata),
                       **({"choices": choices} if choices is not None else {})})
    return fields

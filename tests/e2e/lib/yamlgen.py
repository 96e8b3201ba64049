"""A tiny block-style YAML writer for test configs (no PyYAML dependency).

Strings are written double-quoted with JSON escaping, which YAML's double-quoted style accepts,
so nothing is ever re-interpreted (no accidental booleans, numbers or `${VAR}` surprises)."""

from __future__ import annotations

import json
from typing import Any, List


def _scalar(v: Any) -> str:
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, Raw):
        return v.text
    return json.dumps(str(v))


class Raw:
    """A value written verbatim (e.g. an unquoted duration `30s` or a flow sequence)."""

    def __init__(self, text: str):
        self.text = text


def _emit(obj: Any, indent: int, out: List[str]) -> None:
    pad = " " * indent
    if isinstance(obj, dict):
        if not obj:
            out[-1] += " {}"
            return
        for k, v in obj.items():
            if isinstance(v, (dict, list)) and v:
                out.append(f"{pad}{k}:")
                _emit(v, indent + 2, out)
            elif isinstance(v, dict):
                out.append(f"{pad}{k}: {{}}")
            elif isinstance(v, list):
                out.append(f"{pad}{k}: []")
            else:
                out.append(f"{pad}{k}: {_scalar(v)}")
    elif isinstance(obj, list):
        for item in obj:
            if isinstance(item, dict) and item:
                sub: List[str] = []
                _emit(item, indent + 2, sub)
                sub[0] = pad + "- " + sub[0][indent + 2 :]
                out.extend(sub)
            elif isinstance(item, list) and item:
                out.append(f"{pad}-")
                _emit(item, indent + 2, out)
            else:
                out.append(f"{pad}- {_scalar(item)}")
    else:
        out.append(pad + _scalar(obj))


def dump(obj: dict) -> str:
    out: List[str] = []
    _emit(obj, 0, out)
    return "\n".join(out) + "\n"

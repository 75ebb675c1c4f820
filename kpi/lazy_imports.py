"""Imports deferred until used, where a dependency's import costs seconds for nothing we use.

`jsonschema` (imported by altair, which builds the publication package's phone pictures) imports
`rfc3987_syntax` at its own import to check the "iri" string format, and that package builds its grammar there:
1,3 s of every command that draws a picture (python-jsonschema/jsonschema#1392). Here it is imported on the first
"iri" check instead — which nothing of ours makes — so the check still works for whoever needs it."""
from __future__ import annotations

import importlib
import importlib.util
import sys
import types

NAME = "rfc3987_syntax"


def defer_iri_syntax() -> None:
    if NAME in sys.modules or importlib.util.find_spec(NAME) is None:
        return
    stub = types.ModuleType(NAME)
    real: list = []

    def is_valid_syntax(*args, **kwargs):
        if not real:
            if sys.modules.get(NAME) is stub:
                del sys.modules[NAME]
            real.append(importlib.import_module(NAME))
        return real[0].is_valid_syntax(*args, **kwargs)
    stub.is_valid_syntax = is_valid_syntax
    sys.modules[NAME] = stub

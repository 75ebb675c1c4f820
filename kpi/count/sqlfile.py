"""Reading the SQL files: comment lines out, statements split where a line ends with ';', and the shared
dossier judgement pasted where a file names it (`{{dossier_judgement}}`)."""
from __future__ import annotations

import re
from functools import lru_cache

from kpi import config

STATEMENT_END = re.compile(r";[ \t]*$", re.MULTILINE)   # a statement ends with ';' at the end of a line
INCLUDE = "{{dossier_judgement}}"


def uncommented(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))


@lru_cache(maxsize=None)
def judgement_sql() -> str:
    """The judgement of the dossiers in `_cand` (pid, pe, the dossier's columns, events_from), each at its `pe`
    (kpi/count/dossier_judgement.sql)."""
    return uncommented((config.PACKAGE_DIR / "count" / "dossier_judgement.sql").read_text(encoding="utf-8"))


def statements(text: str) -> list[str]:
    """The statements of a SQL file's text, comments out and the judgement pasted in."""
    code = uncommented(text).replace(INCLUDE, judgement_sql())
    return [s for s in STATEMENT_END.split(code) if s.strip()]

"""The inspector's drill-down: units with many or high rates of late dossiers → procedures → steps →
officials → the dossiers themselves, with apology-letter coverage. Applicant data only on request."""
from __future__ import annotations

import pandas as pd

from kpi.analysis.api import check_personal, official_index, scores_with
from kpi.periods import parse
from kpi.schema import PERSONAL_COLUMNS


def late_by_unit(engine, period) -> pd.DataFrame:
    p = parse(period)
    s = scores_with(engine, p)
    units = engine.con.execute("SELECT unit_code, level FROM units").df()
    ot = s[s.metric_code == "ON_TIME"][["unit_code", "unit_name", "numerator", "denominator"]]
    ap = s[s.metric_code == "LATE_APOLOGY"][["unit_code", "numerator"]].rename(columns={"numerator": "apology"})
    d = ot.merge(ap, on="unit_code").merge(units, on="unit_code")
    d = d[d.level != "province"]
    d["handled"] = d.denominator.astype(int)
    d["late"] = (d.denominator - d.numerator).astype(int)
    d["late_rate"] = 100 * d.late / d.handled.where(d.handled > 0)
    d["apology_rate"] = 100 * d.apology / d.late.where(d.late > 0)
    return d[["unit_code", "unit_name", "level", "handled", "late", "late_rate", "apology", "apology_rate"]] \
        .sort_values(["late", "unit_code"], ascending=[False, True]).reset_index(drop=True)


def late_by_procedure(engine, period, unit) -> pd.DataFrame:
    s = scores_with(engine, parse(period), scope="procedure", unit=unit, include_tracked=False)
    d = s[s.metric_code == "ON_TIME"].copy()
    d["late"] = (d.denominator - d.numerator).astype(int)
    d["late_rate"] = 100 * d.late / d.denominator.where(d.denominator > 0)
    d = d.rename(columns={"unit_name": "procedure_name", "denominator": "handled"})
    return d[d.late > 0][["procedure_code", "procedure_name", "handled", "late", "late_rate"]] \
        .sort_values(["late", "procedure_code"], ascending=[False, True]).reset_index(drop=True)


def step_overruns(engine, period, unit) -> pd.DataFrame:
    d = engine.query("step_overruns", parse(period))
    return d[d.unit_code.isin(engine.scope_members(unit))].reset_index(drop=True)


def late_by_official(engine, period, unit) -> pd.DataFrame:
    s = scores_with(engine, parse(period), scope="official", unit=unit)
    d = s[s.metric_code == "ON_TIME"].copy()
    d["late_charged"] = (d.denominator - d.numerator).astype(int)
    d["on_time_rate"] = d.numerator / d.denominator.where(d.denominator > 0) * 100
    return d[d.denominator > 0][["official_id", "full_name", "unit_name", "denominator", "late_charged",
                                 "on_time_rate"]].rename(columns={"denominator": "handled"}) \
        .sort_values(["late_charged", "official_id"], ascending=[False, True]).reset_index(drop=True)


def late_dossiers(engine, period, unit, personal: bool = False) -> pd.DataFrame:
    """The late dossiers of the unit's sub-tree; applicant columns only when `personal` is True."""
    p = parse(period)
    check_personal(engine, personal)
    d = engine.query("late_dossiers", p)
    d = d[d.unit_code.isin(engine.scope_members(unit))]
    if personal:
        extra = engine.con.execute(f"SELECT dossier_code, {', '.join(PERSONAL_COLUMNS)} FROM dossiers").df()
        d = d.merge(extra, on="dossier_code", how="left")
    return d.reset_index(drop=True)


def apology_coverage(engine, period, unit) -> dict:
    s = scores_with(engine, parse(period), unit=unit, subtree=True).set_index("metric_code")
    late, sent = int(s.loc["LATE_APOLOGY", "denominator"]), int(s.loc["LATE_APOLOGY", "numerator"])
    return {"late": late, "apology": sent, "rate": 100 * sent / late if late else None}


def officials(engine, period, unit=None) -> pd.DataFrame:
    return official_index(scores_with(engine, parse(period), scope="official", unit=unit), engine.profile)


def officials_history(engine, period, unit=None, months: int = 6) -> pd.DataFrame:
    p = parse(period)
    frames = []
    q = p if p.kind == "month" else parse(f"{p.last:%Y-%m}")
    for _ in range(months):
        frames.append(officials(engine, q, unit))
        q = q.previous()
    return pd.concat(frames[::-1], ignore_index=True)

"""Scoring: rate → points by the profile's rules, groups, totals, grades, ranks.

Pure functions over numbers and frames; the rules live in a profile file (YAML), so a new
weight or threshold is a data change.
"""
from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import pandas as pd
import yaml

from . import config
from .report.fmt import round_half_up


class ProfileError(ValueError):
    pass


RULES = {"linear", "linear_target", "tracked", "mean"}
ZERO_RULES = {"null_zero", "full", "zero"}


@lru_cache(maxsize=16)
def _load_profile(path: str) -> dict:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProfileError(f"không tìm thấy tệp cấu hình chấm điểm {path}") from None
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: YAML không hợp lệ ({str(exc).splitlines()[0]})") from None
    return data


def profile_path(profile: str | Path) -> Path:
    """A profile file, or the name of a shipped one (`dvcqg-2026`, `mo-ta-cong-thuc`)."""
    path = Path(profile)
    shipped = config.PROFILES_DIR / f"{path.name.removesuffix('.yaml')}.yaml"
    if not path.is_file() and path.parent == Path(".") and shipped.is_file():
        return shipped
    return path


def shipped_profiles() -> list[str]:
    return sorted(p.stem for p in config.PROFILES_DIR.glob("*.yaml"))


def load_profile(profile: str | Path | dict | None = None) -> dict:
    """The default profile, with a province's file (or dict, or a shipped profile's name) overriding any
    part of it."""
    base = _load_profile(str(config.DEFAULT_PROFILE))
    if profile is not None and not isinstance(profile, dict):
        profile = profile_path(profile)
    if profile is None or (not isinstance(profile, dict) and Path(profile) == config.DEFAULT_PROFILE):
        merged = _deep_merge(base, {})
    else:
        override = profile if isinstance(profile, dict) else _load_profile(str(profile))
        merged = _deep_merge(base, override or {})
    for code, m in merged.get("official", {}).get("extra_metrics", {}).items():
        merged["metrics"].setdefault(code, {**m, "official_only": True})
    _validate(merged)
    return merged


def _deep_merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = _deep_merge(a[k], v) if isinstance(v, dict) and isinstance(a.get(k), dict) else v
    return out


def _validate(p: dict) -> None:
    for code, m in p["metrics"].items():
        if m.get("rule") not in RULES:
            raise ProfileError(f"chỉ số {code}: quy tắc '{m.get('rule')}' không hợp lệ ({', '.join(sorted(RULES))})")
        if m.get("zero", "null_zero") not in ZERO_RULES:
            raise ProfileError(f"chỉ số {code}: quy tắc mẫu số 0 '{m.get('zero')}' không hợp lệ")
        if m["rule"] == "linear_target" and not m.get("target"):
            raise ProfileError(f"chỉ số {code}: linear_target cần 'target'")
        if m.get("variant") and not (config.METRICS_DIR / f"{code.lower()}.{m['variant']}.sql").is_file():
            raise ProfileError(f"chỉ số {code}: không có cách tính '{m['variant']}' "
                               f"(cần tệp kpi/metrics/{code.lower()}.{m['variant']}.sql)")
        if m.get("group") not in p["groups"]:
            raise ProfileError(f"chỉ số {code}: nhóm '{m.get('group')}' không có trong profile")


def rate(numerator, denominator, rule: str = "linear") -> float | None:
    """r = 100 × numerator / denominator (a plain mean for `mean` metrics); None when denominator is 0."""
    if denominator is None or denominator == 0 or _isnan(denominator):
        return None
    if rule == "mean":
        return float(numerator) / float(denominator)
    return 100.0 * float(numerator) / float(denominator)


def _isnan(x) -> bool:
    return isinstance(x, float) and math.isnan(x)


def points(metric_code: str, numerator, denominator, profile=None) -> float | None:
    """Points of one metric, r = 100 × numerator / denominator:

    * linear:           points = max × r / 100
    * linear_target(T): points = min(max, max × r / T)
    * denominator 0:    null_zero → None (no rate, counts as 0); full → max; zero → 0
    * tracked / mean, or max 0: None (not scored)
    """
    prof = profile if isinstance(profile, dict) and "metrics" in profile else load_profile(profile)
    m = prof["metrics"].get(metric_code)
    if m is None:
        raise ProfileError(f"chỉ số {metric_code} không có trong profile")
    mx = float(m.get("max", 0))
    if m["rule"] in ("tracked", "mean") or mx == 0:
        return None
    r = rate(numerator, denominator)
    if r is None:
        return {"null_zero": None, "full": mx, "zero": 0.0}[m.get("zero", "null_zero")]
    if m["rule"] == "linear":
        return mx * r / 100.0
    return min(mx, mx * r / float(m["target"]))


def grade(total: float | None, profile=None) -> str | None:
    """Grade code of a total, graded on the total rounded half-up to 2 decimals."""
    if total is None or _isnan(total):
        return None
    prof = profile if isinstance(profile, dict) and "grade_bands" in profile else load_profile(profile)
    shown = round_half_up(total, 2)
    for band in prof["grade_bands"]:
        if shown >= band["min"]:
            return band["grade"]
    return prof["grade_bands"][-1]["grade"]


def score_frame(counts: pd.DataFrame, profile: dict) -> pd.DataFrame:
    """counts (metric_code, numerator, denominator[, empty_rate_zero]) → + rate, points, max_points, group_code."""
    out = counts.copy()
    metrics = profile["metrics"]
    out["group_code"] = out.metric_code.map(lambda c: metrics[c]["group"])
    out["max_points"] = out.metric_code.map(lambda c: float(metrics[c].get("max", 0)))
    rules = out.metric_code.map(lambda c: metrics[c]["rule"])
    out["rate"] = [rate(n, d, r) for n, d, r in zip(out.numerator, out.denominator, rules)]
    out["points"] = [points(c, n, d, profile) for c, n, d in zip(out.metric_code, out.numerator, out.denominator)]
    if "empty_rate_zero" in out:
        forced = out.empty_rate_zero.fillna(False).astype(bool) & out.rate.isna()
        out.loc[forced, "rate"] = 0.0
        out.loc[forced & (out.max_points > 0), "points"] = 0.0
        out = out.drop(columns="empty_rate_zero")
    whole = out.numerator.isna() | (out.numerator.astype("float") % 1 == 0)
    if (rules != "mean").all() and whole.all():
        out["numerator"] = out.numerator.astype("Int64")
    out["denominator"] = out.denominator.astype("Int64")
    out["rate"] = out["rate"].astype("Float64")
    out["points"] = out["points"].astype("Float64")
    return out


def group_points(scored: pd.DataFrame, profile: dict, keys: list[str], view: str = "portal") -> pd.DataFrame:
    """Group totals per keys: sum of metric points (null as 0), parts rounded first where the
    profile says so (online payment), capped where it says so. view='decision' merges the
    groups into the Decision's five."""
    groups = profile["groups"]
    s = scored[scored.max_points > 0].copy()
    s["p"] = s.points.astype("float").fillna(0.0)
    rounded = s.group_code.map(lambda g: bool(groups[g].get("round_parts")))
    s.loc[rounded, "p"] = s.loc[rounded, "p"].map(lambda v: round_half_up(v, 2))
    g = s.groupby(keys + ["group_code"], dropna=False).agg(points=("p", "sum")).reset_index()
    g["max_points"] = g.group_code.map(lambda c: float(groups[c]["max"]))
    cap = g.group_code.map(lambda c: groups[c].get("cap"))
    g["points"] = [min(p, c) if c is not None and not _isnan(c) else p for p, c in zip(g.points, cap)]
    if view == "decision":
        g["group_code"] = g.group_code.map(lambda c: groups[c].get("decision_group", c))
        g = g.groupby(keys + ["group_code"], dropna=False).agg(points=("points", "sum"),
                                                               max_points=("max_points", "sum")).reset_index()
    return g


def rank_min(values: pd.Series) -> pd.Series:
    """Competition ranking on the displayed (2-decimal) value: ties share a rank (1, 2, 2, 4)."""
    shown = values.astype("float").map(lambda v: round_half_up(v, 2))
    return shown.rank(method="min", ascending=False).astype("Int64")

"""Scoring: rate → points by the profile's rules, groups, totals, grades, ranks.

Pure functions over numbers and frames; the rules live in a profile file (YAML), so a new
weight or threshold is a data change.
"""
from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from kpi import config
from kpi.numbers import round_half_up
from kpi.labels import GRADES


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
    override = {} if profile is None or (not isinstance(profile, dict) and Path(profile) == config.DEFAULT_PROFILE) \
        else profile if isinstance(profile, dict) else _load_profile(str(profile))
    if override is not None and not isinstance(override, dict):
        raise ProfileError(f"{_name(profile)}: tệp phải là một bảng khóa: giá trị (YAML mapping), "
                           f"không phải {type(override).__name__} — so với kpi/profiles/dvcqg-2026.yaml")
    merged = _deep_merge(base, override or {})
    try:
        if not isinstance(merged.get("metrics"), dict):
            raise ProfileError("metrics: cần danh sách chỉ số (mã chỉ số: {group: …, max: …, rule: …})")
        for code, m in merged.get("official", {}).get("extra_metrics", {}).items():
            merged["metrics"].setdefault(code, {**m, "official_only": True})
        _validate(merged)
    except ProfileError as exc:
        raise ProfileError(f"{_name(profile)}: {exc}") from None
    except (AttributeError, TypeError, KeyError, ValueError) as exc:
        raise ProfileError(f"{_name(profile)}: cấu trúc không hợp lệ ({type(exc).__name__}: {exc}) — "
                           "so với kpi/profiles/dvcqg-2026.yaml") from None
    return merged


def _name(profile) -> str:
    return "cấu hình chấm điểm" if profile is None or isinstance(profile, dict) else f"cấu hình {profile}"


def _deep_merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = _deep_merge(a[k], v) if isinstance(v, dict) and isinstance(a.get(k), dict) else v
    return out


PARAMS = {"publish_lead_working_days", "public_update_working_days", "feedback_answer_working_days",
          "feedback_reject_working_days", "feedback_supplement_working_days"}
TOP_KEYS = {"name", "description", "grade_bands", "groups", "decision_groups", "metrics", "official", "review"} | PARAMS
REVIEW_COUNTS = ("min_dossiers", "account_months", "account_quarters", "commend_min_dossiers", "commend_max_late")
REVIEW_PERCENTS = ("self_assessment_gap_percent", "commend_max_late_percent", "commend_max_share_percent")
REVIEW_KEYS = {"commend_grade", "account_grade", *REVIEW_PERCENTS, *REVIEW_COUNTS}
TOTAL_MAX = 100


def _num(value, key: str, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or _isnan(value) or value < 0 \
            or (positive and value == 0):
        raise ProfileError(f"{key}: cần một số {'dương' if positive else 'không âm'}, không phải {value!r}")
    return float(value)


def _validate(p: dict) -> None:
    """A profile's one-line errors name the key to fix: shape, known metric codes and groups, weights ≥ 0,
    each group's metrics summing to its maximum (more only where a cap holds it), groups summing to 100,
    grade bands from best to worst down to 0."""
    if not isinstance(p, dict):
        raise ProfileError("tệp cấu hình phải là một bảng khóa: giá trị (YAML mapping)")
    unknown = set(p) - TOP_KEYS
    if unknown:
        raise ProfileError(f"khóa không biết: {', '.join(sorted(unknown))} — các khóa dùng được: {', '.join(sorted(TOP_KEYS))}")
    for k in PARAMS & set(p):
        if _num(p[k], k) != int(p[k]):
            raise ProfileError(f"{k}: cần số ngày làm việc nguyên, không phải {p[k]!r}")
    groups, metrics = p.get("groups"), p.get("metrics")
    if not isinstance(groups, dict) or not groups:
        raise ProfileError("groups: cần danh sách nhóm (mã nhóm: {max: …})")
    if not isinstance(metrics, dict) or not metrics:
        raise ProfileError("metrics: cần danh sách chỉ số (mã chỉ số: {group: …, max: …, rule: …})")
    known = {f.stem.upper() for f in config.METRICS_DIR.glob("*.sql") if "." not in f.stem}
    for g, spec in groups.items():
        if not isinstance(spec, dict):
            raise ProfileError(f"groups.{g}: cần {{max: …}}, không phải {spec!r}")
        _num(spec.get("max"), f"groups.{g}.max")
        if spec.get("cap") is not None:
            _num(spec["cap"], f"groups.{g}.cap")
    for code, m in metrics.items():
        key = f"metrics.{code}"
        if code not in known:
            raise ProfileError(f"{key}: không có chỉ số mã '{code}' (không có kpi/count/metrics/{str(code).lower()}.sql)")
        if not isinstance(m, dict):
            raise ProfileError(f"{key}: cần {{group: …, max: …, rule: …}}, không phải {m!r}")
        if m.get("rule") not in RULES:
            raise ProfileError(f"{key}.rule: '{m.get('rule')}' không hợp lệ ({', '.join(sorted(RULES))})")
        if m.get("zero", "null_zero") not in ZERO_RULES:
            raise ProfileError(f"{key}.zero: '{m.get('zero')}' không hợp lệ ({', '.join(sorted(ZERO_RULES))})")
        _num(m.get("max", 0), f"{key}.max")
        if m["rule"] == "linear_target":
            _num(m.get("target"), f"{key}.target", positive=True)
        if m.get("variant") and not (config.METRICS_DIR / f"{code.lower()}.{m['variant']}.sql").is_file():
            raise ProfileError(f"{key}.variant: không có cách tính '{m['variant']}' "
                               f"(cần tệp kpi/count/metrics/{code.lower()}.{m['variant']}.sql)")
        if m.get("group") not in groups:
            raise ProfileError(f"{key}.group: nhóm '{m.get('group')}' không có trong groups")
    for g, spec in groups.items():
        total = sum(float(m.get("max", 0)) for m in metrics.values()
                    if m.get("group") == g and not m.get("official_only") and m["rule"] not in ("tracked", "mean"))
        gmax, cap = float(spec["max"]), spec.get("cap")
        if abs(total - gmax) > 1e-9 and not (total > gmax and cap is not None and float(cap) <= gmax + 1e-9):
            raise ProfileError(f"groups.{g}.max: các chỉ số của nhóm cộng lại {total:g} điểm, khác {gmax:g} — "
                               "sửa 'max' của chỉ số hoặc của nhóm (hay đặt 'cap' nếu nhóm bị chặn trên)")
    total = sum(float(spec["max"]) for spec in groups.values())
    if abs(total - TOTAL_MAX) > 1e-9:
        raise ProfileError(f"groups: các nhóm cộng lại {total:g} điểm, phải là {TOTAL_MAX} — sửa 'max' của các nhóm")
    if p.get("decision_groups"):
        for dg, dmax in p["decision_groups"].items():
            got = sum(float(s["max"]) for g, s in groups.items() if s.get("decision_group", g) == dg)
            if abs(got - _num(dmax, f"decision_groups.{dg}")) > 1e-9:
                raise ProfileError(f"decision_groups.{dg}: các nhóm thuộc nhóm này cộng lại {got:g}, khác {dmax}")
    bands = p.get("grade_bands")
    if not isinstance(bands, list) or not bands or not all(isinstance(b, dict) for b in bands):
        raise ProfileError("grade_bands: cần danh sách {min: …, grade: …} từ cao xuống thấp")
    mins = [_num(b.get("min"), f"grade_bands[{i}].min") for i, b in enumerate(bands)]
    for i, b in enumerate(bands):
        if b.get("grade") not in GRADES:
            raise ProfileError(f"grade_bands[{i}].grade: '{b.get('grade')}' không hợp lệ ({', '.join(GRADES)})")
    if any(a <= b for a, b in zip(mins, mins[1:])) or mins[-1] != 0:
        raise ProfileError(f"grade_bands: ngưỡng phải giảm dần và kết thúc ở 0, không phải {mins}")
    review = p.get("review", {})
    if not isinstance(review, dict):
        raise ProfileError(f"review: cần bảng khóa ({', '.join(sorted(REVIEW_KEYS))}), không phải {review!r}")
    if set(review) - REVIEW_KEYS:
        raise ProfileError(f"review: khóa không biết: {', '.join(sorted(set(review) - REVIEW_KEYS))} — "
                           f"dùng được: {', '.join(sorted(REVIEW_KEYS))}")
    for k in REVIEW_COUNTS:
        positive = k in ("account_months", "account_quarters")
        if k in review and (_num(review[k], f"review.{k}") != int(review[k]) or (positive and review[k] < 1)):
            raise ProfileError(f"review.{k}: cần số nguyên{' dương' if positive else ' không âm'}, không phải {review[k]!r}")
    for k in ("commend_grade", "account_grade"):
        if k in review and review[k] not in GRADES:
            raise ProfileError(f"review.{k}: '{review[k]}' không hợp lệ ({', '.join(GRADES)})")
    for k in REVIEW_PERCENTS:
        if k in review and _num(review[k], f"review.{k}") > 100:
            raise ProfileError(f"review.{k}: cần một tỷ lệ phần trăm từ 0 đến 100, không phải {review[k]!r}")
    official = p.get("official", {})
    for code in official.get("metrics", []) if isinstance(official, dict) else [None]:
        if code not in metrics:
            raise ProfileError(f"official.metrics: chỉ số '{code}' không có trong metrics")


def rates_and_points(codes, numerators, denominators, profile: dict) -> tuple[np.ndarray, np.ndarray]:
    """The rate and the points of every (metric, numerator, denominator) at once — NaN where there is none:

    * rate r = 100 × numerator / denominator (a plain mean for `mean` metrics); none when denominator is 0
    * linear:           points = max × r / 100
    * linear_target(T): points = min(max, max × r / T)
    * denominator 0:    null_zero → none (no rate, counts as 0); full → max; zero → 0
    * tracked / mean, or max 0: none (not scored)
    """
    metrics = profile["metrics"]
    codes = pd.Series(codes, dtype=object)
    unknown = [c for c in codes.unique() if c not in metrics]
    if unknown:
        raise ProfileError(f"chỉ số {unknown[0]} không có trong profile")
    spec = {c: metrics[c] for c in codes.unique()}

    def each(f):
        return codes.map({c: f(m) for c, m in spec.items()}).to_numpy()
    mx = each(lambda m: float(m.get("max", 0))).astype(float)
    rule = each(lambda m: m["rule"])
    n = pd.to_numeric(pd.Series(numerators), errors="coerce").to_numpy(float, na_value=np.nan)
    d = pd.to_numeric(pd.Series(denominators), errors="coerce").to_numpy(float, na_value=np.nan)
    none = np.isnan(d) | (d == 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        linear = 100.0 * n / d
        rates = np.where(none, np.nan, np.where(rule == "mean", n / d, linear))
        by_target = mx * linear / each(lambda m: float(m.get("target") or 1.0)).astype(float)
        earned = np.where(rule == "linear", mx * linear / 100.0, np.where(by_target < mx, by_target, mx))
    zero = each(lambda m: m.get("zero", "null_zero"))
    empty = np.where(zero == "full", mx, np.where(zero == "zero", 0.0, np.nan))
    scored = ~np.isin(rule, ["tracked", "mean"]) & (mx != 0)
    return rates, np.where(scored, np.where(none, empty, earned), np.nan)


def points(metric_code: str, numerator, denominator, profile=None) -> float | None:
    """Points of one metric (`rates_and_points`); None when not scored, or no rate and `null_zero`."""
    prof = profile if isinstance(profile, dict) and "metrics" in profile else load_profile(profile)
    value = rates_and_points([metric_code], [numerator], [denominator], prof)[1][0]
    return None if np.isnan(value) else float(value)


def _isnan(x) -> bool:
    return isinstance(x, float) and math.isnan(x)


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
    """counts (metric_code, numerator, denominator[, empty_rate_zero]) → + rate, points, max_points, group_code.
    `rate` and `points` for every row at once: the same arithmetic, in the same order, as for one row."""
    out = counts.copy()
    metrics = profile["metrics"]
    rates, earned = rates_and_points(out.metric_code, out.numerator, out.denominator, profile)
    out["group_code"] = out.metric_code.map({c: metrics[c]["group"] for c in out.metric_code.unique()})
    out["max_points"] = out.metric_code.map({c: float(metrics[c].get("max", 0)) for c in out.metric_code.unique()})
    rules = out.metric_code.map({c: metrics[c]["rule"] for c in out.metric_code.unique()})
    out["rate"] = rates
    out["points"] = earned
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
    s = scored.loc[scored.max_points > 0, keys + ["group_code"]]
    p = scored.points[scored.max_points > 0].astype("float").fillna(0.0)
    rounded = s.group_code.map({c: bool(spec.get("round_parts")) for c, spec in groups.items()}).to_numpy(bool)
    if rounded.any():
        p[rounded] = rounded_2(p[rounded])
    g = s.assign(p=p).groupby(keys + ["group_code"], dropna=False).agg(points=("p", "sum")).reset_index()
    g["max_points"] = g.group_code.map({c: float(spec["max"]) for c, spec in groups.items()})
    cap = g.group_code.map({c: spec.get("cap") for c, spec in groups.items()})
    g["points"] = [min(p, c) if c is not None and not _isnan(c) else p for p, c in zip(g.points, cap)]
    if view == "decision":
        g["group_code"] = g.group_code.map(lambda c: groups[c].get("decision_group", c))
        g = g.groupby(keys + ["group_code"], dropna=False).agg(points=("points", "sum"),
                                                               max_points=("max_points", "sum")).reset_index()
    return g


def rounded_2(values: pd.Series) -> pd.Series:
    """Each value rounded half-up to 2 decimals (round_half_up), each distinct value worked out once: a
    province's points repeat (full points, 0) across thousands of rows."""
    return values.map({v: round_half_up(v, 2) for v in values.unique()})


def rank_min(values: pd.Series) -> pd.Series:
    """Competition ranking on the displayed (2-decimal) value: ties share a rank (1, 2, 2, 4)."""
    shown = rounded_2(values.astype("float"))
    return shown.rank(method="min", ascending=False).astype("Int64")

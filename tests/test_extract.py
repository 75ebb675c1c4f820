"""Access by unit (`kpi extract`): a unit's own store gives the same figures as the province's store for that
sub-tree, holds nothing of other units and no applicant's personal data unless asked, knows what it is, and
every command and notebook keeps to its scope. Files holding dossiers are their owner's only."""
import math
import os
import shutil
import stat

import duckdb
import pandas as pd
import pytest
from conftest import ROOT, run_kpi

import kpi
from kpi import extract
from kpi.analysis.api import ScopeError
from kpi.schema import PERSONAL_COLUMNS

MONTH, QUARTER = "2026-10", "2026-Q3"


def _pick(store):
    """A department and a commune of the sample, each with dossiers (its districts ended in 2025)."""
    con = duckdb.connect(str(store), read_only=True)
    try:
        def busiest(level):
            return con.execute("SELECT d.unit_code FROM dossiers d JOIN units u USING (unit_code) WHERE u.level = ? "
                               "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1", [level]).fetchone()[0]
        return {"department": busiest("department"), "commune": busiest("commune")}
    finally:
        con.close()


# (store, unit, periods): a department and a commune of the sample; in the hand-worked province a district's
# sub-tree (UBND huyện Cũ with its commune, June 2025) and the commune they were merged into (C1)
CASES = {"department": ("sample", None, (MONTH, QUARTER)), "commune": ("sample", None, (MONTH, QUARTER)),
         "district": ("hw", "DIST", ("2025-06",)), "successor": ("hw", "C1", ("2026-08", "2026-Q3"))}


@pytest.fixture(scope="module")
def extracts(sample_store, hw, tmp_path_factory):
    folder = tmp_path_factory.mktemp("extracts")
    picks = _pick(sample_store)
    out = {}
    for level, (which, code, _) in CASES.items():
        store = sample_store if which == "sample" else hw
        code = code or picks[level]
        out[level] = (code, extract(code, folder / f"{level}.duckdb", store=store, progress=False).path, store)
    return out


def _members(store, unit):
    """The unit's sub-tree, and the units merged into it (their dossiers count for it in trends)."""
    con = duckdb.connect(str(store), read_only=True)
    try:
        tree = {r[0] for r in con.execute("""WITH RECURSIVE t(c) AS (SELECT ?::VARCHAR UNION
                              SELECT u.unit_code FROM units u JOIN t ON u.parent_code = t.c) SELECT c FROM t""",
                                         [unit]).fetchall()}
        merged = {r[0] for r in con.execute("SELECT unit_code FROM units WHERE successor_code IN "
                                            "(SELECT unnest(?::VARCHAR[]))", [sorted(tree)]).fetchall()}
    finally:
        con.close()
    return tree | merged


def _same(a: pd.DataFrame, b: pd.DataFrame, keys):
    """Equal row for row and value for value (an empty value equal whether None, NaN or NA; a sum of minutes
    to the last bit it can differ by when added in another order)."""
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    a, b = ([*x.sort_values(keys).astype(object).pipe(lambda f: f.where(f.notna(), None)).itertuples(index=False)]
            for x in (a, b))
    for ra, rb in zip(a, b):
        for col, x, y in zip(ra._fields, ra, rb):
            if isinstance(x, float) and isinstance(y, float):
                assert math.isclose(x, y, rel_tol=1e-12), (col, ra, rb)
            else:
                assert x == y, (col, ra, rb)


@pytest.mark.parametrize("level", list(CASES))
def test_extract_gives_the_province_stores_figures(extracts, level):
    unit, path, store = extracts[level]
    members = _members(store, unit)
    if level in ("district", "successor"):
        assert len(members) > 1            # a sub-tree, or a unit with the units merged into it
    for period in CASES[level][2]:
        # every unit's own figures, the unit with its sub-tree, and the trend's merged figures
        prov = kpi.scores(period, store=store)
        _same(kpi.scores(period, store=path), prov[prov.unit_code.isin(members)], ["unit_code", "metric_code"])
        for merged in (False, True) if level != "district" else (False,):    # a district has no successor view
            _same(kpi.scores(period, unit=unit, subtree=True, merged=merged, store=path),
                  kpi.scores(period, unit=unit, subtree=True, merged=merged, store=store), ["metric_code"])
        # totals, grades, the change since the previous period and the rank among the province's units
        pt = kpi.totals(period, store=store)
        xt = kpi.totals(period, store=path)
        assert set(xt.unit_code) == set(pt.unit_code) & members and len(xt)
        _same(xt, pt[pt.unit_code.isin(members)], ["unit_code"])
        assert xt["rank"].notna().any()
        # officials and procedures
        po = kpi.scores(period, scope="official", unit=unit, store=store)
        assert len(po) or level == "district"          # the old district had no officials listed
        _same(kpi.scores(period, scope="official", store=path), po, ["official_id", "metric_code"])
        _same(kpi.scores(period, scope="procedure", unit=unit, store=path),
              kpi.scores(period, scope="procedure", unit=unit, store=store), ["procedure_code", "metric_code"])
        # the evidence behind a figure, dossier by dossier
        for code in ("ON_TIME", "ONLINE_SUBMISSION", "DOSSIER_RECEIVING_SATISFACTION", "PETITION_PROCESSING_ON_TIME"):
            _same(kpi.evidence(code, unit, period, store=path), kpi.evidence(code, unit, period, store=store),
                  ["entity"])


def test_an_as_of_day_is_the_same_and_carries_no_reference_rank(extracts):
    unit, path, store = extracts["commune"]
    _same(kpi.scores("2026-11", unit=unit, subtree=True, as_of="2026-11-15", store=path),
          kpi.scores("2026-11", unit=unit, subtree=True, as_of="2026-11-15", store=store), ["metric_code"])
    assert kpi.totals("2026-11", as_of="2026-11-15", store=path)["rank"].isna().all()


@pytest.mark.parametrize("level", list(CASES))
def test_default_extract_holds_only_the_units_rows_and_no_personal_data(extracts, level):
    unit, path, store = extracts[level]
    members = _members(store, unit)
    src = duckdb.connect(str(store), read_only=True)
    con = duckdb.connect(str(path), read_only=True)
    try:
        above = {r[0] for r in src.execute("""WITH RECURSIVE up(c) AS (SELECT parent_code FROM units WHERE
                    unit_code = ? UNION SELECT u.parent_code FROM units u JOIN up ON u.unit_code = up.c)
                    SELECT c FROM up WHERE c IS NOT NULL""", [unit]).fetchall()}
        dossiers = {r[0] for r in con.execute("SELECT dossier_code FROM dossiers").fetchall()}
        assert dossiers == {r[0] for r in src.execute("SELECT dossier_code FROM dossiers WHERE unit_code IN "
                                                      "(SELECT unnest(?::VARCHAR[]))", [sorted(members)]).fetchall()}
        officials = {r[0] for r in con.execute("SELECT official_id FROM officials").fetchall()}
        tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        scanned = 0
        for t in tables:
            cols = {r[0] for r in con.execute(f"SELECT column_name FROM duckdb_columns() WHERE table_name = '{t}'")
                    .fetchall()}
            if "unit_code" in cols and t != "reference_totals":     # the province's totals: checked below
                codes = {r[0] for r in con.execute(f"SELECT DISTINCT unit_code FROM {t}").fetchall()} - {None}
                allowed = members | above if t == "units" else members
                assert codes <= allowed, (t, codes - allowed)
                scanned += 1
            if "dossier_code" in cols:
                codes = {r[0] for r in con.execute(f"SELECT DISTINCT dossier_code FROM {t}").fetchall()} - {None}
                assert codes <= dossiers, t
            if "official_id" in cols and t not in ("dossier_events", "feedback"):
                ids = {r[0] for r in con.execute(f"SELECT DISTINCT official_id FROM {t}").fetchall()} - {None}
                assert ids <= officials, t
            for c in cols & set(PERSONAL_COLUMNS):
                assert con.execute(f"SELECT count({c}) FROM {t}").fetchone()[0] == 0, (t, c)
        assert scanned >= 8
        assert con.execute("SELECT count(raw) FROM quarantine").fetchone()[0] == 0
        # the reference figures are the province's totals: other units appear there by name and total only
        ref_cols = {r[0] for r in con.execute("SELECT column_name FROM duckdb_columns() "
                                              "WHERE table_name = 'reference_totals'").fetchall()}
        assert ref_cols == {"period", "profile_hash", "unit_code", "unit_name", "level", "total", "grade", "rank",
                            "rank_in_level"}
        meta = con.execute("SELECT unit_code, subtree, personal, source FROM extract_meta").fetchone()
        assert meta == (unit, True, False, str(store))
    finally:
        src.close()
        con.close()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_with_personal_keeps_applicants_and_says_so(sample_store, sample_dir, tmp_path):
    unit = _pick(sample_store)["commune"]
    out = tmp_path / "commune-personal.duckdb"
    r = run_kpi("extract", "--unit", unit.lower(), "--with-personal", "--out", out, "--store", sample_store, "-q")
    assert r.returncode == 0, r.stderr
    assert "CẢNH BÁO" in r.stderr and "họ tên" in r.stderr
    con = duckdb.connect(str(out), read_only=True)
    try:
        assert con.execute("SELECT personal FROM extract_meta").fetchone()[0] is True
        n = con.execute("SELECT count(*), count(applicant_name) FROM dossiers").fetchone()
        assert n[0] > 0 and n[1] == n[0]
    finally:
        con.close()
    s = run_kpi("status", "--store", out)
    assert s.stdout.splitlines()[0].startswith("Kho trích cho") and "CÓ dữ liệu cá nhân" in s.stdout.splitlines()[0]
    # asked for and held: the evidence shows the applicant
    ev = kpi.evidence("ON_TIME", unit, MONTH, store=out, personal=True)
    assert ev.applicant_name.notna().any()


def test_personal_data_only_where_the_store_holds_it(extracts):
    unit, path, _ = extracts["commune"]
    with pytest.raises(ScopeError, match="không gồm dữ liệu cá nhân"):
        kpi.evidence("ON_TIME", unit, MONTH, store=path, personal=True)


def test_extract_knows_what_it_is_and_commands_keep_to_its_scope(extracts, sample_store, tmp_path):
    unit, path, _ = extracts["successor"]
    s = run_kpi("status", "--store", path)
    assert "(C1, gồm 2 đơn vị cũ đã sáp nhập vào)" in s.stdout.splitlines()[0]
    s = run_kpi("status", "--store", extracts["district"][1])
    assert "(DIST, gồm 1 đơn vị trực thuộc)" in s.stdout.splitlines()[0]
    unit, path, _ = extracts["commune"]
    s = run_kpi("status", "--store", path)
    first = s.stdout.splitlines()[0]
    assert s.returncode == 0 and first.startswith("Kho trích cho ") and f"({unit}" in first
    assert "(không gồm dữ liệu cá nhân)" in first
    # the province's publication speaks for every unit: refused in one line
    r = run_kpi("publish", "--period", MONTH, "--store", path, "--out", tmp_path / "pub")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "nói thay cho cả tỉnh" in r.stderr
    assert not (tmp_path / "pub").exists()
    # another unit: the usual one-line error, naming the extract
    other = _pick(sample_store)["department"]
    r = run_kpi("score", "--period", MONTH, "--unit", other, "--store", path)
    assert r.returncode == 2 and "không thuộc kho trích này" in r.stderr and "Traceback" not in r.stderr
    r = run_kpi("score", "--period", MONTH, "--store", path)
    assert r.returncode == 0 and unit in r.stdout and other not in r.stdout
    # the monthly report on an extract is its unit's, and says what it was made on
    out = tmp_path / "r.html"
    r = run_kpi("report", "monthly", "--period", MONTH, "--store", path, "--out", out, "-q")
    assert r.returncode == 0, r.stderr
    html = out.read_text(encoding="utf-8")
    assert "Kho trích cho" in html and "(không gồm dữ liệu cá nhân)" in html
    assert "Hạng là hạng trong toàn tỉnh, lấy từ số liệu tham chiếu của tỉnh" in html
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o666 & ~_umask()        # reports keep the usual mode
    # the portal reconciliation within the extract's units only
    r = run_kpi("portal", "reconcile", "--period", MONTH, "--store", path, "--out", tmp_path / "rec.csv")
    if r.returncode == 0:
        rec = pd.read_csv(tmp_path / "rec.csv", dtype=str)
        assert set(rec.unit_code.dropna()) <= _members(sample_store, unit)
    else:
        assert r.returncode == 2 and "Cổng DVCQG" in r.stderr
    # a load into an extract is refused: it is refreshed by extracting again
    r = run_kpi("load", ROOT / "tests" / "data" / "handworked", "--store", path)
    assert r.returncode == 2 and "kho trích" in r.stderr


def test_extracting_again_replaces_the_file_whole(sample_store, tmp_path):
    picks = _pick(sample_store)
    out = tmp_path / "x.duckdb"
    extract(picks["department"], out, store=sample_store, progress=False)
    first = os.stat(out).st_ino
    extract(picks["commune"], out, store=sample_store, subtree=False, progress=False)
    con = duckdb.connect(str(out), read_only=True)
    try:
        assert con.execute("SELECT unit_code, subtree FROM extract_meta").fetchall() == [(picks["commune"], False)]
        assert {r[0] for r in con.execute("SELECT DISTINCT unit_code FROM dossiers").fetchall()} == {picks["commune"]}
    finally:
        con.close()
    assert os.stat(out).st_ino != first                     # a new file renamed into place, not rewritten
    # a failing extract (unknown unit) leaves the previous file as it was, and no temporary file
    before = out.read_bytes()
    r = run_kpi("extract", "--unit", "KHONG.CO", "--out", out, "--store", sample_store, "-q")
    assert r.returncode == 2 and "KHONG.CO" in r.stderr
    assert out.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["x.duckdb"]
    # an extract of an extract keeps to the first one's scope
    r = run_kpi("extract", "--unit", picks["department"], "--out", tmp_path / "y.duckdb", "--store", out, "-q")
    assert r.returncode == 2 and "không thuộc kho trích này" in r.stderr


def _umask():
    m = os.umask(0)
    os.umask(m)
    return m


def test_stores_and_kept_figures_are_private(tmp_path):
    store = tmp_path / "kpi.duckdb"
    r = run_kpi("load", ROOT / "tests" / "data" / "handworked", "--store", store, "-q")
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(os.stat(store).st_mode) == 0o600
    r = run_kpi("score", "--period", "2026-10", "--store", store, env={"KPI_CACHE": "1"})
    assert r.returncode == 0, r.stderr
    cache = tmp_path / "kpi.duckdb.cache"
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o700
    kept = list(cache.glob("*.parquet"))
    assert kept and all(stat.S_IMODE(os.stat(f).st_mode) == 0o600 for f in kept)
    assert "Cảnh báo" not in run_kpi("status", "--store", store).stderr
    os.chmod(store, 0o644)
    r = run_kpi("status", "--store", store)
    warning = [line for line in r.stderr.splitlines() if line.startswith("Cảnh báo")]
    assert r.returncode == 0 and len(warning) == 1 and "644" in warning[0] and "chmod 600" in warning[0]


def test_notebooks_open_an_extract_like_any_store(extracts, tmp_path, monkeypatch):
    """A unit's notebooks take the extract through KPI_STORE: the report is its unit's and says what it is."""
    from test_notebooks import run
    unit, path, _ = extracts["commune"]
    monkeypatch.setenv("KPI_STORE", str(path))
    _, text = run("01_monthly_report", tmp_path, period=MONTH)
    assert "Kho trích cho" in text and f"({unit}" in text
    _, text = run("02_explore_trends", tmp_path, period=MONTH)
    assert "Kho trích cho" in text
    _, text = run("03_inspection_drilldown", tmp_path, period=MONTH, allow_personal=True)
    assert "Kho trích cho" in text and "không gồm dữ liệu cá nhân của người nộp" in text


def test_extracting_over_the_source_store_is_refused(sample_store, tmp_path):
    copy = tmp_path / "kpi.duckdb"
    shutil.copy(sample_store, copy)
    r = run_kpi("extract", "--unit", _pick(sample_store)["commune"], "--out", copy, "--store", copy, "-q")
    assert r.returncode == 2 and "chính kho nguồn" in r.stderr


def test_word_report_on_an_extract_says_what_it_was_made_on(extracts, tmp_path):
    import docx
    unit, path, _ = extracts["department"]
    out = tmp_path / "r.docx"
    r = run_kpi("report", "unit", "--unit", unit, "--period", MONTH, "--docx", "--store", path, "--out", out, "-q")
    assert r.returncode == 0, r.stderr
    text = [p.text for p in docx.Document(str(out)).paragraphs]
    assert any(t.startswith("Kho trích cho") and f"({unit})" in t and "không gồm dữ liệu cá nhân" in t for t in text)

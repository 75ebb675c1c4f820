"""The pictures and the public page of the monthly publication: sizes fit for Zalo and the portal, every
glyph drawn covered by the font the project ships, the page self-contained (no script, nothing fetched,
checked in offline Chromium) and free of applicant data."""
from __future__ import annotations

import re

import pandas as pd
import pytest

from conftest import run_kpi
from kpi.present import pictures

PERIOD = "2026-09"
STEMS = ["the-tong-hop", "xep-hang-so-nganh", "xep-hang-xa-phuong", "ty-le-tre-han", "ty-le-truc-tuyen"]


@pytest.fixture(scope="module")
def package(sample_store, tmp_path_factory):
    out = tmp_path_factory.mktemp("pub") / "cong-khai"
    r = run_kpi("publish", "--period", PERIOD, "--store", sample_store, "--out", out, "-q")
    assert r.returncode == 0, r.stderr
    return out


def test_pictures_are_written_at_a_width_for_zalo_and_the_portal(package):
    files = sorted(p.name for p in (package / "anh").iterdir())
    assert files == sorted(f"{s}-{PERIOD}.png" for s in STEMS)
    for f in (package / "anh").iterdir():
        data = f.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        w, h = pictures.png_size(data)
        assert 1080 <= w <= 1280 and 300 <= h <= 4 * w, (f.name, w, h)


def test_pictures_for_a_phone(sample_store):
    """The late-rate axis ends a little past the worst unit (not at 100 %), the province's average is drawn,
    the online picture shows counts, a long ranking shows its first and last ten, the headline card shows
    the late and online rates."""
    from kpi.analysis import api
    from kpi.periods import parse
    from kpi.report.publish import package_frames
    with api.session(sample_store) as e:
        p = parse(PERIOD)
        frames = package_frames(e, p)
        charts = pictures.publication(api.totals_with(e, p), frames, p, api.data_range(e.con)[1])
    rates = pictures.province_rates(frames)
    late = charts["ty-le-tre-han"].to_dict()
    domain = [ly["encoding"]["x"]["scale"]["domain"] for ly in late["layer"]
              if "scale" in ly.get("encoding", {}).get("x", {})][0]
    units = frames["ty-le-ho-so-tre-han"]
    worst = float(units[units["Khối"] != "Tỉnh"]["Tỷ lệ hồ sơ trễ hạn (%)"].max())
    assert worst <= domain[1] == pictures._axis_top(max(worst * 1.45, rates["late_rate"]))
    # a worst unit at 42 % gives an axis to 70 % (room for the value written after the bar), not 100 %
    assert pictures._axis_top(42 * 1.45) == 70 and pictures._axis_top(12 * 1.45) == 20
    text = pictures.texts(charts["ty-le-tre-han"])
    assert f"Bình quân tỉnh {pictures.fmt_number(rates['late_rate'])}%" in text
    online = pictures.texts(charts["ty-le-truc-tuyen"])
    assert "Mục tiêu 50,00%" in online and re.search(r"\d+,\d\d% \(\d+/[\d.]+\)", online)
    card = pictures.texts(charts["the-tong-hop"])
    assert f"{pictures.fmt_number(rates['late_rate'])}%" in card and f"{pictures.fmt_number(rates['online_rate'])}%" in card
    communes = charts["xep-hang-xa-phuong"].to_dict()
    rows = [r for r in communes["layer"][0]["data"]["values"]] if "values" in communes["layer"][0].get("data", {}) \
        else list(communes["datasets"].values())[0]
    n = int((units["Khối"] == "Xã, phường").sum())
    assert len(rows) == (21 if n > 22 else n)
    assert all(not str(r["unit_name"]).split(". ", 1)[-1].startswith("UBND") for r in rows)


def test_every_glyph_is_in_the_shipped_font(sample_store):
    from fontTools.ttLib import TTFont
    from kpi.analysis import api
    from kpi.periods import parse
    from kpi.report.publish import package_frames
    fonts = sorted(pictures.FONT_DIR.glob("*.ttf"))
    assert [f.name for f in fonts] == ["DejaVuSans-Bold.ttf", "DejaVuSans.ttf"]
    with api.session(sample_store) as e:
        p = parse(PERIOD)
        charts = pictures.publication(api.totals_with(e, p), package_frames(e, p), p, api.data_range(e.con)[1])
    for font in fonts:
        tt = TTFont(font)
        assert tt["name"].getDebugName(1) == pictures.FONT_FAMILY
        cmap = tt.getBestCmap()
        for stem, chart in charts.items():
            text = pictures.texts(chart)
            assert "ệ" in text or stem != "the-tong-hop"           # Vietnamese is really drawn
            missing = sorted({c for c in text if ord(c) not in cmap and c not in "\n\t"})
            assert not missing, f"{font.name} lacks {missing} used in {stem}"
    # the font is the one the charts ask for, and it is registered from the package, not the system
    assert pictures._spec(charts["the-tong-hop"])["config"]["font"] == pictures.FONT_FAMILY


def test_public_page_is_self_contained_and_offline(package, tmp_path):
    page = (package / "index.html").read_text(encoding="utf-8")
    assert "<script" not in page.lower()
    assert not re.search(r"(src|href)=\"(https?:)?//", page)
    assert page.count('src="data:image/svg+xml;base64,') == len(STEMS)
    for title in ("Tỷ lệ hồ sơ trễ hạn của các cơ quan, đơn vị, địa phương", "Tỷ lệ hồ sơ dịch vụ công trực tuyến",
                  "Danh sách hồ sơ trễ hạn", "Tháng 09/2026"):
        assert title in page
    assert re.search(r"đến ngày \d{2}/\d{2}/\d{4}", page)
    # no internal names: profile, configuration keys, group codes, 'hs'
    for word in ("dvcqg-2026", "cấu hình", "CKMB", "TDGQ", "DVCTT", "MDSH", "MDHL", " hs", "kpi766"):
        assert word not in page, word
    # the late list is summarised per unit; the full list is linked, not inline
    late = pd.read_csv(package / "csv" / f"danh-sach-ho-so-tre-han-{PERIOD}.csv", encoding="utf-8-sig", dtype=str)
    assert not [code for code in late["Mã hồ sơ"] if code in page]
    per_unit = late["Đơn vị giải quyết"].value_counts()
    first = per_unit.index[0]
    assert re.search(rf"<td>{re.escape(first)}</td><td class=\"n\">{per_unit.iloc[0]}</td>", page)
    for link in (f"danh-sach-ho-so-tre-han-{PERIOD}.xlsx", f"csv/danh-sach-ho-so-tre-han-{PERIOD}.csv"):
        assert f'href="{link}"' in page and (package / link).is_file()
    assert (package / "index.html").stat().st_size < 1_000_000
    chromium = "/usr/bin/chromium"
    import shutil
    if not shutil.which(chromium):
        pytest.fail("Chromium (apt package chromium) is needed for the offline check — .ci/run installs it")
    from playwright.sync_api import sync_playwright
    requests = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        for width in (390, 1280):       # a phone (as shared in a Zalo group) and a desktop
            pg = browser.new_page(viewport={"width": width, "height": 844}, java_script_enabled=True)
            pg.on("request", lambda r: requests.append(r.url))
            pg.route("**/*", lambda r: r.abort() if not r.request.url.startswith(("file:", "data:")) else r.continue_())
            pg.goto((package / "index.html").as_uri())
            # the page never scrolls sideways; a table wider than the screen scrolls within its own box
            assert pg.evaluate("document.documentElement.scrollWidth") <= width
            boxes = pg.eval_on_selector_all("div.scroll", "ds => ds.map(d => d.getBoundingClientRect().right)")
            assert boxes and max(boxes) <= width
            imgs = pg.eval_on_selector_all("img", "is => is.map(i => [i.naturalWidth, i.getBoundingClientRect().width])")
            assert len(imgs) == len(STEMS) and all(0 < shown <= width for _, shown in imgs)
            pg.screenshot(path=str(tmp_path / f"page-{width}.png"), full_page=True)
            pg.close()
        browser.close()
    # every count right-aligned in Vietnamese format, whatever its column's type (Int64 included)
    assert not re.search(r"<td>\d+</td>", page)
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []


def test_public_page_and_pictures_hold_no_applicant_data(package, sample_dir, sample_store):
    from kpi.analysis import api
    from kpi.periods import parse
    from kpi.report.publish import package_frames
    with api.session(sample_store) as e:
        p = parse(PERIOD)
        charts = pictures.publication(api.totals_with(e, p), package_frames(e, p), p, api.data_range(e.con)[1])
    page = (package / "index.html").read_text(encoding="utf-8") + "".join(pictures.texts(c) for c in charts.values())
    d = pd.read_csv(sample_dir / "dossiers.csv", dtype=str)
    for col in ("applicant_id_number", "applicant_phone", "applicant_address", "applicant_name"):
        leaked = [v for v in d[col].dropna().unique() if v in page]
        assert not leaked, f"{col} leaked: {leaked[:3]}"

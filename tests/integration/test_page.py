"""The fleet page (dockwright/page): built from the reports a replayed fleet of 300 hosts with
broken hosts gives, every host and data string escaped, and seen as a person sees it: headless
Chromium loads it, with no console error, every host in the grid, a filter that narrows it,
and a screenshot that is not blank."""

import json
import os
import re
import shutil
import subprocess
import time
import zlib
from html.parser import HTMLParser

import pytest

from dockwright import page

from .test_coverage import REPO, _env, run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
need_chromium = pytest.mark.skipif(not CHROMIUM and not os.environ.get("DOCKWRIGHT_REQUIRE_TOOLS"),
                                   reason="no chromium (Debian's chromium package; make lab-packages)")
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


ONE_CARD = True  # make unit keeps these tests in one part: they share the fleet's runs (conftest.py)


def _fleet(tmp_path, n: int = 300) -> list[dict]:
    env = {**_env(DOCKWRIGHT_SIM_FAULTS="4", DOCKWRIGHT_SIM_MAINTENANCE="sim-m0001"), "DOCKWRIGHT_SIM_HOSTS": str(n)}
    reports = []
    for tool in ("drift", "diagnose"):
        _, _, report, _ = run(tool, tmp_path, env=env)
        reports.append(report)
    return reports


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    return _fleet(tmp_path_factory.mktemp("fleet"))


@pytest.fixture(scope="module")
def earlier(fleet):
    """Two earlier runs of the same fleet, for the trend (their counts changed, an hour apart)."""
    drift = next(r for r in fleet if r["kind"] == "drift")
    return [dict(drift, finished=drift["finished"] - 7200, drift={h: v * 3 for h, v in drift["drift"].items()}),
            dict(drift, finished=drift["finished"] - 3600, drift={})]


def test_the_model_holds_every_host_and_names_what_is_wrong(fleet):
    data = page.model(fleet)
    assert len(data["hosts"]) == 300 and data["verdict"]["in_scope"] == 300
    states = {h["name"]: h["state"] for h in data["hosts"]}
    assert states["sim-m0001"] == "skipped"
    assert {s for s in states.values()} >= {"unreachable", "refused", "drift", "clean", "skipped"}
    broken = next(h for h in data["hosts"] if h["state"] == "unreachable")
    assert broken["why"] and all(c == "unreachable" for c in (broken["cells"][k] for k in page.drift_keys()))


def test_names_from_hosts_and_data_render_as_text(tmp_path):
    """A host, network and drift value carrying markup: the page holds no tag of theirs."""
    report = {"schema_version": 2, "kind": "drift", "inventory": HOSTILE, "started": 1.0, "finished": 2.0,
              "duration": 1.0, "hosts": [HOSTILE], "unreachable": {}, "failed": {}, "skipped": {}, "not_checked": {},
              "error": HOSTILE, "warnings": [], "exit_code": 2, "deferred": {}, "fixed": False, "fix": None,
              "coverage": {"in_scope": 1, "checked": 1, "unreachable": {}, "failed": {}, "skipped": {},
                           "not_checked": {}, "ratio": 1.0}, "groups": {HOSTILE: [HOSTILE]},
              "drift": {HOSTILE: [{"host": HOSTILE, "concern": "networks", "key": f"{HOSTILE}.subnet",
                                   "desired": HOSTILE, "actual": "</script>"}]}}
    html = page.render(page.model([report]))
    parser = _Tags()
    parser.feed(html)
    assert [t for t, _ in parser.tags].count("script") == 2  # the data block and the page's own script
    assert not any(t == "img" for t, _ in parser.tags)
    assert "<script>alert" not in html and "</script><img" not in html
    # The control: the same names are in the page, as JSON text.
    assert "\\u003cscript\\u003ealert" in html


def _png_is_not_blank(png: bytes) -> bool:
    """More than one colour in the image (a blank page is a single one): the IDAT data decoded."""
    idat = b"".join(png[i + 8:i + 8 + int.from_bytes(png[i:i + 4], "big")]
                    for i in [m.start() - 4 for m in re.finditer(b"IDAT", png)])
    raw = zlib.decompress(idat)
    return len(set(raw[::101])) > 8


@need_chromium
def test_chromium_shows_every_host_filters_them_and_draws_a_page(fleet, earlier, tmp_path):
    path = page.write(tmp_path / "fleet.html", fleet, earlier)
    url = f"file://{path}"
    common = [CHROMIUM or "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
              "--v=0", "--window-size=1400,1100"]
    started = time.monotonic()
    dom = subprocess.run([*common, "--dump-dom", url + "#open=all"], capture_output=True, text=True, timeout=120)
    opened = time.monotonic() - started
    assert "CONSOLE" not in dom.stderr and "Uncaught" not in dom.stderr, dom.stderr[-2000:]
    assert dom.stdout.count('<tr data-host="') == 300
    narrow = subprocess.run([*common, "--dump-dom", url + "#state=unreachable&open=all"], capture_output=True,
                            text=True, timeout=120).stdout
    unreachable = sum(1 for h in page.model(fleet)["hosts"] if h["state"] == "unreachable")
    assert 0 < narrow.count('<tr data-host="') == unreachable < 300
    assert dom.stdout.count("<polyline") == 1  # the drift trend over three runs
    shot = tmp_path / "fleet.png"
    subprocess.run([*common, f"--screenshot={shot}", url], capture_output=True, timeout=120)
    assert _png_is_not_blank(shot.read_bytes())
    print(f"page {path.stat().st_size // 1024} KiB, opened in Chromium with its script run in {opened:.1f} s")
    if os.environ.get("DOCKWRIGHT_PAGE_FIGURE"):  # docs/figures/fleet-page.png, for the README
        shutil.copy(shot, os.environ["DOCKWRIGHT_PAGE_FIGURE"])


def test_dockwright_report_writes_the_page_and_usage_errors_exit_64(fleet, tmp_path):
    import sys
    src = tmp_path / "drift.json"
    src.write_text(json.dumps(fleet[0]))
    res = subprocess.run([sys.executable, "-m", "dockwright", "report", str(tmp_path / "p.html"), str(src)],
                         cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 0 and (tmp_path / "p.html").stat().st_size > 10_000
    assert oct((tmp_path / "p.html").stat().st_mode & 0o777) == "0o600"  # it names hosts, as the reports do
    for argv in ([], ["nope"], ["report"]):
        assert subprocess.run([sys.executable, "-m", "dockwright", *argv], cwd=REPO, capture_output=True).returncode == 64
    bad = tmp_path / "bad.json"
    bad.write_text('{"not": "a report"}')
    res = subprocess.run([sys.executable, "-m", "dockwright", "report", str(tmp_path / "q.html"), str(bad)],
                         cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 1 and "not a dockwright report" in res.stderr

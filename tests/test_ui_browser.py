"""The web UI in a real browser (§11): headless Chromium from Debian driven by Playwright against
`tracker-service ui` serving a store filled by real training processes. Each test saves a
screenshot of each page it opens under its temporary folder.

Chromium is never downloaded: the Debian package (`apt-get install chromium`, done by .ci/run)
is used. Without it these tests skip on a developer's machine and fail in CI (CI or TRACKER_CI
set), so a missing browser never passes silently there.
"""

from __future__ import annotations

import os
import re

import pytest

from tests.test_ui import XSS, _start_ui

CHROMIUM = os.environ.get("TRACKER_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
IN_CI = bool(os.environ.get("CI") or os.environ.get("TRACKER_CI"))


@pytest.fixture
def browser():
    if not os.path.exists(CHROMIUM):
        if IN_CI:
            pytest.fail(f"{CHROMIUM} is missing: install the chromium package (see .ci/run)")
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, tmp_path):
    """A page that records script errors and dialogs (an alert() would be an injection)."""
    pg = browser.new_page(viewport={"width": 1400, "height": 1000})
    pg.errors, pg.dialogs = [], []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    pg.shot = lambda name: pg.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
    yield pg
    assert pg.errors == [] and pg.dialogs == []
    assert pg.locator("#page-error").count() == 0, pg.inner_text("#page-error")
    pg.close()


@pytest.fixture
def served(tracker_env):
    procs = []

    def serve() -> str:
        proc, url, _ = _start_ui(tracker_env["store"])
        procs.append(proc)
        return url

    yield serve
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=20)


def _fill(run_script) -> list[str]:
    proc = run_script(
        f"""
        import numpy as np, tracker
        XSS = {XSS!r}
        ids = []
        for name, lr, scale in ((XSS, 0.1, 1.0), ("second", 0.01, 2.0)):
            run = tracker.init(project="web", name=name, notes=XSS, group="sweep",
                               config={{"lr": lr}}, settings={{"system_sample_interval": 0}})
            for i in range(2000):
                row = {{"train/loss": scale / (i + 1), "val/acc": i / 2000, XSS: i}}
                if name == XSS and i % 1000 == 0:  # images at steps 0 and 1000; one table
                    row["samples"] = tracker.Image(np.full((8, 8, 3), i // 1000 * 200, np.uint8))
                if name == XSS and i == 1999:
                    row["preds"] = tracker.Table(columns=["id", XSS], data=[[k, XSS] for k in range(3)])
                    curves = tracker.Table(columns=["x", "y", "which"],
                                           data=[[k, k * k, "sq"] for k in (3, 1, 0, 2, 4)]
                                           + [[k, 2 * k, "lin"] for k in range(5)])
                    row["curves"] = tracker.plot.line(curves, "x", "y", stroke="which")
                    bars = tracker.Table(columns=["cls", "n"], data=[["cat", 3], ["dog", 5]])
                    row["bars"] = tracker.plot.bar(bars, "cls", "n", title="counts")
                run.log(row)
            run.finish()
            ids.append(run.id)
        print("IDS", run.entity, *ids)
        """,
        check=True,
    )
    return proc.stdout.splitlines()[-1].split()[1:]


def _charts(pg) -> dict:
    return pg.evaluate(
        "Object.fromEntries(Object.entries(window.trackerCharts)"
        ".map(([k, u]) => [k, [u.series.length, u.data[0].length]]))"
    )


def test_pages_a_person_sees(served, page, run_script):
    entity, a, b = _fill(run_script)
    base = served()

    page.goto(base + "/")
    page.wait_for_selector("#projects")
    assert f"{entity}/web" in page.inner_text("#projects")
    page.shot("projects")

    page.click("#projects a")
    page.wait_for_selector("#runs")
    rows = page.locator("#runs tr[data-run]")
    assert (
        rows.count() == 2
        and XSS in page.inner_text("#runs")
        and "second" in page.inner_text("#runs")
    )
    page.shot("runs")
    assert "nullnull" not in page.inner_text("body")  # absent pager buttons are not text
    page.fill("#filter", '{"config.lr": {"$lt": 0.05}}')
    page.click("#apply")
    page.wait_for_function("() => document.querySelectorAll('#runs tr[data-run]').length === 1")
    assert page.locator("#runs tr[data-run]").get_attribute("data-run") == b
    page.fill("#filter", "not json")
    page.click("#apply")
    page.wait_for_selector("#filter-error:has-text('not JSON')")

    page.goto(f"{base}/{entity}/web/runs/{a}")
    page.wait_for_selector("#charts .chart .u-over")
    charts = {k: v for k, v in _charts(page).items() if not k.startswith("system:")}
    # one chart per key, each x + min, max, last; 2000 rows bucketed to 1000 points
    assert charts == {"train/loss": [4, 1000], "val/acc": [4, 1000], XSS: [4, 1000]}
    options = page.locator("#x-axis option").all_inner_texts()
    assert "val/acc" in options and "samples" not in options  # media keys are not axes
    headings = page.locator("#charts h3").all_inner_texts()
    assert headings == ["train", "val", "charts"]  # grouped by prefix
    # the key and the notes holding HTML show as text; no element was made of them
    assert page.locator("img[src=x]").count() == 0
    assert XSS in page.inner_text("#charts") and page.inner_text("#notes") == XSS
    # the media panel: the image of the newest step, a slider over its steps, the table's rows
    image = "#media .media[data-key=samples] img"
    page.wait_for_function(f"() => document.querySelector('{image}')?.naturalWidth === 8")
    newest = page.get_attribute(image, "src")
    assert "/samples_1000_" in newest and "step 1000 (2 of 2)" in page.inner_text("#media")
    page.eval_on_selector(
        "#media .media[data-key=samples] .step-slider",
        "(s) => { s.value = 0; s.dispatchEvent(new Event('input')); }",
    )
    page.wait_for_function(f"() => document.querySelector('{image}')?.naturalWidth === 8")
    assert "/samples_0_" in page.get_attribute(image, "src")
    assert "step 0 (1 of 2)" in page.inner_text("#media .media[data-key=samples]")
    page.wait_for_selector("#media .media-table td")
    table = page.locator("#media .media[data-key=preds] .media-table tr").all_inner_texts()
    assert [r.split("\t") for r in table] == [["id", XSS], *[[str(k), XSS] for k in range(3)]]
    assert page.locator("img[src=x]").count() == 0  # the table's cells are text too
    # tracker.plot charts: drawn from their tables (a line per stroke value, bars per label)
    page.wait_for_function(
        "() => window.trackerMediaCharts.bars && window.trackerMediaCharts.curves"
    )
    plots = page.evaluate(
        "Object.fromEntries(['curves', 'bars'].map((k) => [k, window.trackerMediaCharts[k].data]))"
    )
    assert plots["curves"] == [[0, 1, 2, 3, 4], [0, 1, 4, 9, 16], [0, 2, 4, 6, 8]]
    assert plots["bars"] == [[0, 1], [3, 5]]
    # a media value in the summary reads as its type and file, not as a wall of JSON
    summary = page.locator("table.kv", has_text="train/loss").inner_text()
    assert "table-file: media/tables/preds_" in summary and "sha256" not in summary
    page.shot("run")

    # drag over a chart: that range is asked again, at full resolution (every step in it)
    box = page.locator(".chart[data-key='train/loss'] .u-over").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + 100, y)
    page.mouse.down()
    page.mouse.move(box["x"] + 200, y, steps=5)
    page.mouse.up()
    page.wait_for_function("() => window.trackerCharts['train/loss'].scales.x.min > 100")
    page.wait_for_function(
        "() => { const xs = window.trackerCharts['train/loss'].data[0];"
        " return xs.length > 10 && xs.every((x, i) => i === 0 || x === xs[i - 1] + 1); }"
    )
    # smoothing: the line (the last value of each bucket) becomes an EMA of it; the band stays
    acc = "window.trackerCharts['val/acc'].data"
    raw = page.evaluate(f"{acc}[3].at(-1)")
    page.eval_on_selector(
        "#smoothing", "(s) => { s.value = 0.9; s.dispatchEvent(new Event('change')); }"
    )
    page.wait_for_function(f"() => {acc}[3].at(-1) < {raw} - 0.005 && {acc}[2].at(-1) === {raw}")
    page.select_option("#x-axis", "_runtime")
    page.wait_for_function(
        "() => window.trackerCharts['train/loss'].series[0].label === '_runtime'"
    )
    page.check("#log-scale")
    page.wait_for_function("() => window.trackerCharts['train/loss'].scales.y.distr === 3")

    page.goto(f"{base}/{entity}/web/compare?runs={a},{b}")
    page.wait_for_selector("#charts .chart .u-over")
    # two runs overlaid: x + (min, max, last) per run
    assert _charts(page)["train/loss"][0] == 7
    page.shot("compare")

    page.goto(f"{base}/{entity}/web/groups/sweep")
    page.wait_for_selector("#charts .chart .u-over")
    assert page.locator("#runs tr[data-run]").count() == 2 and _charts(page)["val/acc"][0] == 7
    page.shot("group")


def test_a_running_runs_chart_and_output_grow_without_reload(served, page, start_script):
    proc = start_script(
        """
        import sys, time, tracker
        run = tracker.init(project="live", settings={"system_sample_interval": 0})
        print("ID", run.entity, run.id, flush=True)
        for i in range(100000):
            run.log({"loss": 1.0 / (i + 1)})
            if i % 20 == 0:
                print(f"step {i}", flush=True)
            time.sleep(0.01)
        """,
        env={**os.environ, "TRACKER_CONSOLE": "redirect"},
    )
    line = proc.stdout.readline()
    _, entity, run_id = line.split()
    base = served()
    page.goto(f"{base}/{entity}/live/runs/{run_id}")
    page.wait_for_function("() => window.trackerCharts['loss'] !== undefined", timeout=30_000)
    first = page.evaluate("window.trackerCharts['loss'].data[0].at(-1)")
    assert page.inner_text("#live") == "● live"
    # within 2 s the chart goes on (the page polls every second), without navigation
    page.wait_for_function(
        f"() => window.trackerCharts['loss'].data[0].at(-1) > {first}", timeout=2_000
    )
    page.wait_for_function("() => document.getElementById('output').textContent.includes('step ')")
    page.shot("live")
    # a run without notes shows none (no "null" line under its name)
    assert "null" not in [line.strip() for line in page.inner_text("body").splitlines()]
    proc.kill()


def test_ui_page_opens_with_playwright_from_a_url_given_by_init(
    served, page, tracker_env, capsys, monkeypatch
):
    """The URL init prints is the page a browser opens."""
    import tracker

    base = served()
    monkeypatch.setenv("TRACKER_SILENT", "0")
    run = tracker.init(project="url")
    run.log({"a": 1})
    run.finish()
    url = re.search(r"(http://\S+/runs/\S+)", capsys.readouterr().err).group(1)
    assert url.startswith(base)
    page.goto(url)
    page.wait_for_selector("#run-state:has-text('finished')")

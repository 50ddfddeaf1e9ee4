"""The web pages in Debian's Chromium against the real app (uvicorn on 127.0.0.1, a fresh
migrated and seeded database): sign in, worklist, acting on a trigger, a case's chart, the
dashboard's Kaplan-Meier curve, sign out; axe-core on every page (no serious or critical
violation), a screenshot of each page in test-artifacts/web, and no request leaving 127.0.0.1.

One server and one browser for the module: the tests run in file order and build on each
other (signed in by the first, signed out by the last).
"""

import csv
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.web.browser import DOWNLOADS, axe_violations, chromium, requested_urls, screenshot
from tests.web.server import Server, running_app

WAIT_S = 30  # the longest a page or chart may take to appear on a loaded machine
SEEDED_AS_OF = "2019-05-14T12:00:00Z"  # the paper's case 3 is due its day-14 and day-30 scores


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with running_app() as app:
        yield app


@pytest.fixture(scope="module")
def browser(server: Server) -> Iterator[WebDriver]:
    with chromium() as driver:
        yield driver


@pytest.fixture(scope="module")
def seen_urls() -> list[str]:
    return []


def api(server: Server, path: str) -> Any:
    answer = httpx.get(
        server.url + path, headers={"Authorization": f"Bearer {server.key}"}, timeout=30
    )
    answer.raise_for_status()
    return answer.json()


def check_page(browser: WebDriver, name: str, seen_urls: list[str]) -> None:
    """axe-core finds no serious or critical violation; a screenshot is kept."""
    screenshot(browser, name)
    assert axe_violations(browser) == [], name
    seen_urls.extend(requested_urls(browser))


def wait_for(browser: WebDriver, css: str) -> Any:
    return WebDriverWait(browser, WAIT_S).until(lambda d: d.find_element(By.CSS_SELECTOR, css))


def row_ids(browser: WebDriver) -> list[str]:
    rows = browser.find_elements(By.CSS_SELECTOR, "tr[data-row-id]")
    return [str(r.get_attribute("data-row-id")) for r in rows]


def test_sign_in_refuses_a_bad_key_then_signs_in(
    server: Server, browser: WebDriver, seen_urls: list[str]
) -> None:
    browser.get(server.url + "/")
    assert browser.current_url == server.url + "/app/sign-in"
    check_page(browser, "sign-in", seen_urls)
    browser.find_element(By.ID, "api_key").send_keys("vtb_wrong__key")
    browser.find_element(By.CSS_SELECTOR, "form.sign-in button").click()
    assert "not valid" in wait_for(browser, "#api_key_error").text
    check_page(browser, "sign-in-refused", seen_urls)
    browser.find_element(By.ID, "api_key").send_keys(server.key)
    browser.find_element(By.CSS_SELECTOR, "form.sign-in button").click()
    wait_for(browser, "table.worklist")
    assert browser.current_url == server.url + "/app/worklist"
    stored = browser.execute_script(
        "return document.cookie + JSON.stringify(localStorage) + JSON.stringify(sessionStorage)"
    )
    assert server.key not in stored
    assert "vtb_session" not in stored  # HttpOnly: no script reads the session
    cookie = browser.get_cookie("vtb_session")
    assert cookie is not None and cookie["httpOnly"] and cookie["sameSite"] == "Strict"


def test_worklist_shows_the_open_items(
    server: Server, browser: WebDriver, seen_urls: list[str]
) -> None:
    wanted = [row["id"] for row in api(server, "/api/v1/worklist?limit=200")["items"]]
    browser.get(server.url + "/app/worklist")
    wait_for(browser, "table.worklist")
    assert wanted and row_ids(browser) == wanted
    triggers = api(server, "/api/v1/worklist?kind=imaging_trigger&limit=200")["items"]
    assert any("T9" in row["sentence"] for row in triggers)  # the ward case's open trigger
    check_page(browser, "worklist", seen_urls)
    # the paper's seeded cases, planned for a day in their follow-up
    seeded = api(server, f"/api/v1/worklist?as_of={SEEDED_AS_OF}")["items"]
    browser.get(f"{server.url}/app/worklist?as_of={SEEDED_AS_OF}")
    wait_for(browser, "table.worklist")
    assert row_ids(browser) == [row["id"] for row in seeded]
    paper = [row for row in seeded if not row["patient_label"].startswith("DEMO")]
    assert [(row["kind"], row["day"]) for row in paper] == [
        ("pain_score_due", 30),
        ("pain_score_due", 14),
    ]
    for row in paper:
        assert row["sentence"] in browser.find_element(By.ID, "main").text


def test_acknowledge_a_trigger_and_a_stale_page_says_so(
    server: Server, browser: WebDriver, seen_urls: list[str]
) -> None:
    browser.get(server.url + "/app/worklist?kind=imaging_trigger")
    row = api(server, "/api/v1/worklist?kind=imaging_trigger&limit=1")["items"][0]
    trigger_id, version = row["trigger_id"], row["version"]
    Select(browser.find_element(By.ID, f"to-{trigger_id}")).select_by_value("acknowledged")
    browser.find_element(
        By.CSS_SELECTOR, f"form[action='/app/worklist/triggers/{trigger_id}'] button"
    ).click()
    assert "updated" in wait_for(browser, ".notice.done").text
    after = api(server, f"/api/v1/imaging-triggers/{trigger_id}")
    assert after["status"] == "acknowledged" and after["version"] == version + 1
    check_page(browser, "worklist-acknowledged", seen_urls)
    # the same form as a page loaded before the acknowledgement: someone else acted
    form = browser.find_element(
        By.CSS_SELECTOR, f"form[action='/app/worklist/triggers/{trigger_id}']"
    )
    browser.execute_script(
        "arguments[0].querySelector('[name=version]').value = arguments[1];", form, str(version)
    )
    Select(browser.find_element(By.ID, f"to-{trigger_id}")).select_by_value("imaging_ordered")
    form.find_element(By.TAG_NAME, "button").click()
    assert "Someone else acted" in wait_for(browser, ".notice.stale").text
    assert api(server, f"/api/v1/imaging-triggers/{trigger_id}")["status"] == "acknowledged"


def test_record_a_due_pain_score_from_its_row(
    server: Server, browser: WebDriver, seen_urls: list[str]
) -> None:
    due = api(server, "/api/v1/worklist?kind=pain_score_due&limit=200")["items"]
    row = next(r for r in due if not r["score_in_window"])
    browser.get(server.url + "/app/worklist?kind=pain_score_due")

    def form() -> Any:
        return browser.find_element(
            By.XPATH, f"//input[@name='row_id'][@value='{row['id']}']/parent::form"
        )

    Select(form().find_element(By.NAME, "scale")).select_by_value("nrs11")
    form().find_element(By.NAME, "value").send_keys("11")  # beyond the 0-10 scale
    form().find_element(By.TAG_NAME, "button").click()
    error = wait_for(browser, "form.pain .error")
    assert error.text and "value" in str(error.get_attribute("id"))
    assert form().find_element(By.NAME, "value").get_attribute("aria-invalid") == "true"
    check_page(browser, "worklist-score-refused", seen_urls)
    value = form().find_element(By.NAME, "value")
    value.clear()
    value.send_keys("3")
    form().find_element(By.TAG_NAME, "button").click()
    assert "recorded" in wait_for(browser, ".notice.done").text
    after = api(server, "/api/v1/worklist?kind=pain_score_due&limit=200")["items"]
    assert all(r["score_in_window"] for r in after if r["id"] == row["id"])
    case = api(server, f"/api/v1/cases/{row['patient_id']}")
    assert any(e["kind"] == "pain" and e["value"] == 3 for e in case["timeline"])


def test_record_a_medication_change_from_a_row(
    server: Server, browser: WebDriver, seen_urls: list[str]
) -> None:
    row = api(server, "/api/v1/worklist?limit=1")["items"][0]
    browser.get(server.url + "/app/worklist")

    def form() -> Any:
        return browser.find_element(
            By.XPATH,
            f"//form[@action='/app/worklist/medication'][input[@value='{row['id']}']]",
        )

    def open_form() -> None:
        details = form().find_element(By.XPATH, "ancestor::details")
        if details.get_attribute("open") is None:
            details.find_element(By.TAG_NAME, "summary").click()

    open_form()
    form().find_element(By.NAME, "drug").send_keys("morphine")
    form().find_element(By.NAME, "dose").send_keys("10")  # no unit: refused
    form().find_element(By.TAG_NAME, "button").click()
    error = wait_for(browser, "form.medication .error")
    assert "dose_unit" in error.text and error.get_attribute("id") is not None
    assert str(error.get_attribute("id")).endswith("-dose_unit-error")
    check_page(browser, "worklist-medication-refused", seen_urls)
    open_form()
    Select(form().find_element(By.NAME, "dose_unit")).select_by_value("mg")
    Select(form().find_element(By.NAME, "route")).select_by_value("oral")
    form().find_element(By.NAME, "doses_per_day").send_keys("2")
    form().find_element(By.TAG_NAME, "button").click()
    assert "medication change was recorded" in wait_for(browser, ".notice.done").text
    case = api(server, f"/api/v1/cases/{row['patient_id']}")
    recorded = [e for e in case["timeline"] if e["kind"] == "medication"]
    assert [(e["drug"], e["dose"], e["ome_mg_day"] is not None) for e in recorded] == [
        ("morphine", 10, True)
    ]


def test_case_pages_draw_their_charts(
    server: Server, browser: WebDriver, seen_urls: list[str]
) -> None:
    cases = api(server, "/api/v1/cases?limit=200")["items"]
    seeded = [c for c in cases if c["first_procedure_at"] < "2020"]
    assert len(seeded) >= 3  # the paper's three cases (the ward cases are recent)
    for number, summary in enumerate(seeded[:4]):
        patient_id = summary["patient_id"]
        case = api(server, f"/api/v1/cases/{patient_id}")
        pains = [
            e
            for e in case["timeline"]
            if e["kind"] == "pain" and e["score"] is not None and e["site"] in ("back", "leg")
        ]
        browser.get(f"{server.url}/app/cases/{patient_id}")
        chart = wait_for(browser, "#case-chart svg[data-pain-points]")
        assert chart.get_attribute("data-pain-points") == str(len(pains))
        dots = browser.find_elements(By.CSS_SELECTOR, "#case-chart g.pain-point circle")
        assert len(pains) > 0 and len(dots) == len(pains)
        treated = browser.find_elements(By.CSS_SELECTOR, ".spine .vertebra.treated")
        levels = {lv["level"] for p in case["procedures"] for lv in p["levels"]}
        assert {t.text.split()[0] for t in treated} == levels
        check_page(browser, f"case-{number + 1}", seen_urls)
    # the print stylesheet: a case summary without the navigation or the forms
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        assert not browser.find_element(By.CSS_SELECTOR, "form.sign-out").is_displayed()
        assert browser.find_element(By.CSS_SELECTOR, "#case-chart svg").is_displayed()
        screenshot(browser, "case-print")
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})


def test_dashboard_draws_the_kaplan_meier_curves(
    server: Server, browser: WebDriver, seen_urls: list[str]
) -> None:
    stats = api(server, "/api/v1/stats/outcomes")
    shown = [p for p in stats["survival"]["at"] if p["survival"] is not None]
    shown += [p for p in stats["recurrence"]["at"] if p["survival"] is not None]
    browser.get(server.url + "/app/dashboard")
    chart = wait_for(browser, "#km-chart svg[data-km-points]")
    assert shown and chart.get_attribute("data-km-points") == str(len(shown) + 2)  # + day 0
    paths = browser.find_elements(By.CSS_SELECTOR, "#km-chart g.km-line path")
    assert len(paths) == 2 and all(len(str(p.get_attribute("d"))) > 10 for p in paths)
    rows = browser.find_elements(By.CSS_SELECTOR, "#survival-table tbody tr")
    assert len(rows) == len(stats["survival"]["at"])
    trajectory = browser.find_elements(By.CSS_SELECTOR, "#trajectory-table tbody tr")
    assert len(trajectory) > 0
    # the survival table as CSV, downloaded and parsed
    target = DOWNLOADS / "survival.csv"
    target.unlink(missing_ok=True)
    browser.find_element(By.CSS_SELECTOR, "button.csv[data-table='survival-table']").click()
    WebDriverWait(browser, WAIT_S).until(lambda _d: target.exists() and target.stat().st_size)
    with target.open(newline="") as f:
        table = list(csv.DictReader(f))
    assert [int(r["day"]) for r in table] == [p["day"] for p in stats["survival"]["at"]]
    assert [r["at_risk"] for r in table] == [
        "" if p["at_risk"] is None else str(p["at_risk"]) for p in stats["survival"]["at"]
    ]
    check_page(browser, "dashboard", seen_urls)
    # a cohort filter: the figures follow the API's for the same cohort
    female = api(server, "/api/v1/stats/outcomes?sex=female")
    Select(browser.find_element(By.ID, "f-sex")).select_by_value("female")
    browser.find_element(By.CSS_SELECTOR, "form.cohort button").click()
    wait_for(browser, "#km-chart svg[data-km-points]")
    assert browser.current_url.endswith("sex=female&age_band=&period=")
    patients = female["counts"]["patients"]["value"]
    assert f"{patients} patients" in browser.find_element(By.ID, "main").text
    check_page(browser, "dashboard-female", seen_urls)


def test_an_unknown_page_is_a_page_with_a_way_on(
    server: Server, browser: WebDriver, seen_urls: list[str]
) -> None:
    browser.get(server.url + "/app/no-such-page")
    heading = wait_for(browser, "main h1")
    assert heading.text and "{" not in heading.text
    links = {a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "main a")}
    assert server.url + "/app" in links  # the start page: the worklist when signed in
    check_page(browser, "not-found", seen_urls)
    browser.find_element(By.CSS_SELECTOR, 'main a[href="/app"]').click()
    wait_for(browser, "table.worklist")


def test_sign_out_ends_the_session(
    server: Server, browser: WebDriver, seen_urls: list[str]
) -> None:
    cookie = browser.get_cookie("vtb_session")
    assert cookie is not None
    browser.get(server.url + "/app/worklist")
    browser.find_element(By.CSS_SELECTOR, "form.sign-out button").click()
    wait_for(browser, "form.sign-in")
    assert browser.get_cookie("vtb_session") is None
    browser.get(server.url + "/app/worklist")
    assert browser.current_url == server.url + "/app/sign-in"
    # the old cookie, replayed, is refused: signing out is real
    replay = httpx.get(
        server.url + "/app/worklist", cookies={"vtb_session": cookie["value"]}, timeout=30
    )
    assert replay.status_code == 303 and replay.headers["location"] == "/app/sign-in"
    seen_urls.extend(requested_urls(browser))


def test_no_request_left_the_machine(server: Server, seen_urls: list[str]) -> None:
    assert seen_urls, "the performance log recorded the pages' requests"
    outside = [u for u in seen_urls if not u.startswith((server.url + "/", "data:", "blob:"))]
    assert outside == []
    assert any(u.endswith("/static/vendor/web/plot/plot.umd.min.js") for u in seen_urls)

"""A researcher in the browser: sees the collaboration, creates tasks from the form, watches
them finish live, reads and downloads results, and kills a task."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import PASSWORD, login, shoot, url
from v6lib.testing import LocalFederation

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def _new_task(page: Any, method: str, kwargs: str, *, image: str | None = None,
              everywhere: bool = False) -> None:
    """Fill the form; ``image=None`` keeps the image the form offers (that of an earlier
    task), so each test that names its image runs alone too."""
    page.get_by_role("link", name="New task").first.click()
    page.get_by_role("heading", name="New task").wait_for()
    page.get_by_label("Name").fill(method.replace("_", " "))
    if image is not None:
        page.get_by_label("Image").fill(image)
    page.get_by_label("Method").fill(method)
    page.get_by_label("Keyword arguments (JSON object)").fill(kwargs)
    if everywhere:
        for box in page.locator('#organizations input[type="checkbox"]').all():
            box.check()


def test_the_demo_task_from_the_browser(page: Any, federation: LocalFederation) -> None:
    # Prepare: one task exists, so the form offers its image
    federation.create_task("partial_average", kwargs={"column": "age"})
    login(page, federation.port, "researcher", PASSWORD)

    # the start page: the collaboration, its members and nodes
    page.get_by_role("heading", name="Collaborations").wait_for()
    page.get_by_role("heading", name="local federation").wait_for()
    card = page.get_by_role("region", name="local federation")
    card.get_by_text(re.compile(r"^\d+ node\(s\) online")).wait_for()
    shoot(page, "collaborations")
    page.get_by_role("link", name="local federation").click()
    page.get_by_role("heading", name="Organizations and their nodes").wait_for()
    shoot(page, "collaboration")

    # the form refuses arguments that are not a JSON object, and says why
    _new_task(page, "central_average", "{column: age}")
    assert page.get_by_label("Image").input_value() == federation.image
    page.get_by_role("button", name="Create task").click()
    kwargs = page.get_by_label("Keyword arguments (JSON object)")
    assert kwargs.get_attribute("aria-invalid") == "true"
    assert "Not valid JSON" in page.locator(f"#{kwargs.get_attribute('id')}-error").inner_text()
    kwargs.fill('{"column": "age"}')
    shoot(page, "task-new")
    page.get_by_role("button", name="Create task").click()

    # the task page follows the runs until the task is done, then shows the result
    page.get_by_text("Finished: completed.").wait_for(timeout=60_000)
    result = page.locator(".result pre").first.inner_text()
    assert json.loads(result)["organizations"] == federation.organization_ids
    expected = federation.client.wait_for_results(
        int(re.search(r"/tasks/(\d+)", page.url).group(1)))[0]  # type: ignore[union-attr]
    assert json.loads(result)["average"] == pytest.approx(expected["average"])
    page.get_by_role("heading", name="Subtasks").wait_for()
    shoot(page, "task")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download JSON").click()
    saved = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert saved["count"] == expected["count"]


def test_a_table_result_at_every_organization(page: Any, federation: LocalFederation) -> None:
    login(page, federation.port, "researcher", PASSWORD)
    page.goto(url(federation.port, "#/"))
    _new_task(page, "summary", "{}", image=federation.image, everywhere=True)
    page.get_by_role("button", name="Create task").click()
    page.get_by_text("Finished: completed.").wait_for(timeout=60_000)
    assert "3 of 3 run(s) finished" in page.locator("label[for=task-progress]").inner_text()
    tables = page.locator(".result table")
    assert tables.count() == 3
    headers = tables.first.locator("th").all_inner_texts()
    assert {"age", "bmi"} <= set(headers)
    assert tables.first.locator("tbody tr").first.locator("td").first.inner_text() == "count"
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").first.click()
    csv = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    assert csv[0].startswith(",") and csv[1].startswith("count,")


def test_a_result_that_holds_frames_shows_each_as_a_table(
        page: Any, federation: LocalFederation) -> None:
    login(page, federation.port, "researcher", PASSWORD)
    page.goto(url(federation.port, "#/"))
    _new_task(page, "report", "{}", image=federation.image)
    page.get_by_role("button", name="Create task").click()
    page.get_by_text("Finished: completed.").wait_for(timeout=60_000)
    expected = federation.client.wait_for_results(
        int(re.search(r"/tasks/(\d+)", page.url).group(1)))[0]  # type: ignore[union-attr]
    assert json.loads(page.locator(".result pre").first.inner_text()) == {
        "rows": expected["rows"]}
    by_sex = page.get_by_role("table", name=re.compile(r"^by_sex, run"))
    header = by_sex.locator("thead tr")
    assert header.nth(0).locator("th").all_inner_texts() == ["", "", "bmi"]
    assert header.nth(0).locator("th").nth(2).get_attribute("colspan") == "2"
    assert header.nth(1).locator("th").all_inner_texts() == ["sex", "smoker", "mean", "count"]
    first = by_sex.locator("tbody tr").first.locator("td").all_inner_texts()
    sex, smoker = expected["by_sex"].index[0]
    mean, count = expected["by_sex"].iloc[0, 0], expected["by_sex"].iloc[0, 1]  # float, int
    assert first == [sex, str(smoker), str(mean), str(count)]
    ages = page.get_by_role("table", name=re.compile(r"^ages, run"))
    assert ages.locator("th").all_inner_texts() == ["", "age"]
    with page.expect_download() as download:
        page.get_by_role("button", name="Download ages as CSV").click()
    csv = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    assert csv[:2] == [",age", f"count,{expected['ages']['count']}"]


def test_kill_a_running_task(page: Any, federation: LocalFederation) -> None:
    login(page, federation.port, "researcher", PASSWORD)
    page.goto(url(federation.port, "#/"))
    _new_task(page, "wait", '{"seconds": 120}', image=federation.image)
    page.get_by_role("button", name="Create task").click()
    page.locator("h3 .badge", has_text="active").wait_for(timeout=30_000)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Kill task").click()
    page.get_by_text("Finished: killed by user.").wait_for(timeout=30_000)
    assert page.get_by_role("button", name="Kill task").count() == 0

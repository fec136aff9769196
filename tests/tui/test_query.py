"""The `/` filter language: one parser, one Query object, run in memory by the table."""

from __future__ import annotations

import pytest

from tests.tui.conftest import text_of, wait_for, wait_for_workers
from tests.tui.test_jobs import main_table
from tui.columns import JOB_COLUMNS
from tui.query import Query, Term, parse_query

TITLES = [c.title for c in JOB_COLUMNS]


pytestmark = pytest.mark.local_only("fills the local catalog directly")


@pytest.mark.parametrize("text, query", [
    ("", Query()),
    ("mnist", Query(text="mnist")),
    ("tiny  digits", Query(text="tiny digits")),
    ("/fail|cancel/", Query(regex="fail|cancel")),
    ("/^bench_job_00999[0-9] /", Query(regex="^bench_job_00999[0-9] ")),
    ("status:Failed exp:mnist", Query(terms=(Term("STATUS", "Failed"), Term("EXPERIMENT", "mnist")))),
    ("-status:Completed", Query(terms=(Term("STATUS", "Completed", negate=True),))),
    ("STATUS:failed oom", Query(text="oom", terms=(Term("STATUS", "failed"),))),
    ('display:"my run" /x+/', Query(regex="x+", terms=(Term("DISPLAY NAME", "my run"),))),
    ("display_name:a Display-Name:b", Query(terms=(Term("DISPLAY NAME", "a"), Term("DISPLAY NAME", "b")))),
    ("status:", Query()),  # still typing: no constraint yet
    ("it's", Query(text="it's")),  # an unbalanced quote is text
])
def test_parse(text, query):
    assert parse_query(text, TITLES) == query


def test_what_is_not_understood_is_said_and_searched_as_text():
    query = parse_query("colour:red", TITLES)
    assert query.text == "colour:red" and query.terms == ()
    assert "no column 'colour'" in query.error and "STATUS" in query.error
    bad = parse_query("/[/", TITLES)
    assert bad.regex is None and bad.text == "/[/" and bad.error.startswith("bad regex")
    # An alias of a column the kind lacks is no column of it.
    assert parse_query("exp:x", ["NAME", "VERSION"]).terms == ()


def test_matches_in_memory():
    cells = ("keen_hat_1", "train mnist", "Failed", "command", "mnist-exp", "local", "5s", "1m")
    assert parse_query("status:fail exp:MNIST", TITLES).matches(cells, TITLES)
    assert not parse_query("-status:failed", TITLES).matches(cells, TITLES)
    assert parse_query("-status:Completed keen", TITLES).matches(cells, TITLES)
    assert parse_query("/^keen_.*command/", TITLES).matches(cells, TITLES)
    assert not parse_query("compute:cluster", TITLES).matches(cells, TITLES)
    assert parse_query("", TITLES).predicate(TITLES) is None


async def test_column_terms_filter_the_table_and_reopen_to_edit(ws, app_factory):
    from tui.workspace.local.bench import fill_jobs

    fill_jobs(ws, 40)
    jobs = ws.list_jobs().items
    app = app_factory()
    async with app.run_test(size=(160, 45)) as pilot:
        main = app.screen
        await wait_for(pilot, lambda: main_table(app).total_rows == 40)
        await pilot.press("slash", *"status:Failed exp:experiment-1", "enter")
        await wait_for_workers(pilot)  # sorting and filtering ask the source, in a worker
        expected = {j.name for j in jobs if j.status == "Failed" and j.experiment_name == "experiment-1"}
        assert expected and {r.key for r in main_table(app).rows} == expected
        assert f"{len(expected)} of 40" in text_of(main.query_one("#table-title"))
        # `/` reopens with the filter to edit; a negated term.
        await pilot.press("slash")
        assert main.query_one("#prompt").value == "status:Failed exp:experiment-1"
        await pilot.press("ctrl+u", *"-status:Completed", "enter")
        await wait_for_workers(pilot)  # sorting and filtering ask the source, in a worker
        assert {r.key for r in main_table(app).rows} == {j.name for j in jobs if j.status != "Completed"}
        # Up and down walk the filters entered before.
        await pilot.press("slash", "ctrl+u", "up")
        assert main.query_one("#prompt").value == "-status:Completed"
        await pilot.press("up")
        assert main.query_one("#prompt").value == "status:Failed exp:experiment-1"
        await pilot.press("down", "down")
        assert main.query_one("#prompt").value == ""
        await pilot.press("escape")
        assert main_table(app).filter_text == ""

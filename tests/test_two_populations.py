"""A claim never reads part of a grid, and a second population's verdicts stand beside the first."""

import pytest

from paperlib.__main__ import main
from paperlib.paper.claims import incomplete_tasks, measure_claims
from paperlib.paper.render import html_table, markdown_table
from paperlib.training import get_profile


def test_a_partly_trained_task_is_decided_by_no_claim(unfinished_copy, tmp_path):
    data = unfinished_copy(tmp_path)  # the tiny CDI population with its last networks not trained
    expected = sum(len(u.seeds) for u in get_profile("tiny").work_units("cdi"))
    why = f"the cdi population is incomplete ({expected - 12} of {expected} networks trained)"
    assert incomplete_tasks(data, "tiny") == {"cdi": why}  # tasks with nothing stored are not listed
    claims = {c.id: c for c in measure_claims(data, "tiny", tasks=["cdi"])}
    assert [c.holds for c in claims.values()] == [None] * 8
    assert why in claims["C7"].reading and why in claims["C8"].reading  # the CDI claims say why
    assert "no flipflop population" in claims["C4"].reading


def test_the_claims_tables_show_a_second_population_beside(unfinished_copy, tmp_path):
    claims = measure_claims(unfinished_copy(tmp_path), "tiny", tasks=["cdi"])
    html = html_table(claims, beside={"small": claims[:7]})
    assert html.count("<th>small</th>") == 1 and html.count("<tr>") == 1 + 8
    assert html.count("<td>–</td>") == 1  # C8 has no verdict in the shorter column
    table = markdown_table({"paper64": claims, "small": claims[:7]}).splitlines()
    assert table[0] == "| claim | paper64 | small |" and len(table) == 2 + 8
    assert table[-1].startswith("| C8 ") and table[-1].endswith("| not measurable | – |")


def test_a_book_cannot_stand_beside_itself(capsys):
    with pytest.raises(SystemExit) as exit_code:
        main(["book", "--profile", "tiny", "--beside", "tiny"])
    assert exit_code.value.code == 2 and "--beside tiny is the book's own --profile" in capsys.readouterr().err

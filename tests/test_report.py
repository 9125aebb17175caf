"""The report of a study folder (`emomotion.report`): the published numbers only beside the same dataset, the
`family` column, display names, the headline figure, and an HTML page made by markdown-it-py (self-contained,
tables that scroll, nothing raw)."""
import json
from pathlib import Path

import pandas as pd
import pytest

from emomotion.provenance import REPORT_FIGURE
from emomotion.evaluate import PROTOCOL_TEXT
from emomotion.published import PUBLISHED
from emomotion.report import (PUBLISHED_COLUMN, display_name, headline_figure, headline_table, model_family,
                              render_html, render_markdown, write_report)
from emomotion.cli import main

PNG = b"\x89PNG\r\n\x1a\n"


def _results(dataset="kinematic", **extra):
    return pd.DataFrame(dict(dataset=dataset, model=["Random Forest", "Random Forest", "stgcn_skeleton", "stgcn_features"],
                             protocol=["stratified", "actors", "actors", "actors"], folds=5,
                             accuracy=[0.6, 0.5, 0.4, 0.3], accuracy_std=[0.05, 0.04, 0.03, 0.02], chance=0.15,
                             n_clips=100, **extra))


def _study_folder(folder: Path, dataset: str, results: pd.DataFrame) -> Path:
    (folder / "tables").mkdir(parents=True)
    (folder / "figures").mkdir()
    results.to_csv(folder / "tables" / "results.csv", index=False)
    pd.DataFrame({"note": ["<script>alert(1)</script>"], "text": ["a very long cell " * 40]}).to_csv(
        folder / "tables" / "toy.csv", index=False)
    (folder / "figures" / "toy.png").write_bytes(PNG)
    prov = dict(parameters=dict(dataset=dataset, profile="quick", seed=0), status="ok", command="emomotion study",
                notebooks=[dict(name="02_toy", status="ok", outputs=["tables/toy.csv", "figures/toy.png"],
                                results=[dict(dataset=dataset, model="Random Forest", protocol="actors")])])
    (folder / "provenance.json").write_text(json.dumps(prov))
    return folder


@pytest.mark.parametrize("dataset", ["synthetic", "bandai", "emokine"])
def test_kinematic_numbers_are_not_shown_beside_other_data(tmp_path, dataset):
    table = headline_table(_results(dataset))
    assert PUBLISHED_COLUMN not in table
    md = write_report(_study_folder(tmp_path, dataset, _results(dataset)))[0].read_text()
    table1 = md[md.index("**Table 1.**"):md.index("**Table 2.**")]
    assert "0.534" not in table1 and f"published no number on **{dataset}** data" in table1
    assert "0.534" in md[md.index("**Table 2.**"):]          # the published numbers stay, as a reference


def test_kinematic_numbers_are_shown_beside_kinematic_data():
    table = headline_table(_results("kinematic"))
    assert table.loc[0, PUBLISHED_COLUMN].startswith(PUBLISHED.published["rf"])
    assert table.loc[1, PUBLISHED_COLUMN].startswith(PUBLISHED.published["stgcn"])   # ST-GCN, skeleton only
    assert table.loc[2, PUBLISHED_COLUMN] == ""                                       # the features-only ablation


def test_the_family_column_decides_and_old_files_fall_back_to_the_name():
    fam = ["rf", "rf", "", "stgcn"]               # the notebook says the last one is an ST-GCN; the name would say no
    table = headline_table(_results("kinematic", family=fam))
    assert table.loc[2, PUBLISHED_COLUMN].startswith(PUBLISHED.published["stgcn"])
    assert table.loc[1, PUBLISHED_COLUMN].startswith(PUBLISHED.published["stgcn"])   # empty family: the name decides
    assert model_family("Random Forest", "02_baselines", family="none") is None
    assert model_family("Random Forest", "02_baselines") == "rf"


def test_moemo_is_shown_only_among_the_published_numbers(tmp_path):
    "A `moemo` row gets no published number beside it; MoEmo's own number appears in Table 2 only, with its F1."
    results = _results("kinematic", family=["rf", "rf", "moemo", "ablation"])
    table = headline_table(results)
    assert table.loc[0, PUBLISHED_COLUMN].startswith(PUBLISHED.published["rf"])
    assert table.loc[1, PUBLISHED_COLUMN] == "" and table.loc[2, PUBLISHED_COLUMN] == ""   # moemo, ablation
    md = write_report(_study_folder(tmp_path, "kinematic", results))[0].read_text()
    table1, rest = md[md.index("**Table 1.**"):md.index("**Table 2.**")], md[md.index("**Table 2.**"):]
    table2 = rest[:rest.index("**Table 3.**")]
    moemo = PUBLISHED.loc["moemo"]
    assert moemo.published not in table1 and moemo.published in table2
    assert f"{moemo.f1:.3f}" in table2 and moemo.data in table2


def test_the_protocols_are_listed_with_evaluates_descriptions(tmp_path):
    md = write_report(_study_folder(tmp_path, "kinematic", _results()))[0].read_text()
    for p in ("stratified", "actors"):
        assert f"*{p}*: {PROTOCOL_TEXT[p]}" in md
    assert f"*loo*: {PROTOCOL_TEXT['loo']}" not in md                 # only the protocols that were run


def test_models_are_shown_by_one_display_name(tmp_path):
    table = headline_table(_results("synthetic"))
    assert list(table.model) == ["Random Forest", "ST-GCN, skeleton only", display_name("stgcn_features")]
    md = write_report(_study_folder(tmp_path, "synthetic", _results("synthetic")))[0].read_text()
    assert "stgcn_skeleton" not in md and md.count("ST-GCN, skeleton only") >= 2     # Table 1 and Table 3


def test_the_headline_figure_opens_the_report_and_is_embedded(tmp_path):
    out = _study_folder(tmp_path, "kinematic", _results())
    md_path, page = write_report(out)
    md = md_path.read_text()
    assert (out / REPORT_FIGURE).read_bytes()[:8] == PNG
    assert md.index(REPORT_FIGURE) < md.index("**Table 1.**")
    html = page.read_text()
    assert html.count('src="data:image/png;base64,') == 2 and 'src="figures/' not in html
    assert "Other tables and figures" not in md                # the report's own figure is not a leftover


def test_no_results_no_stale_figure(tmp_path):
    out = _study_folder(tmp_path, "kinematic", _results())
    write_report(out)
    (out / "tables" / "results.csv").write_text("")
    write_report(out)
    assert not (out / REPORT_FIGURE).exists()
    assert headline_figure(pd.DataFrame(columns=["dataset", "model", "protocol"]), out / "x.png") is None


def test_html_is_the_markdown_rendered_tables_scroll_and_nothing_raw(tmp_path):
    out = _study_folder(tmp_path, "kinematic", _results())
    page = write_report(out)[1].read_text()
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count('<div class="table"><table>') == page.count("<table>") > 0
    assert ".table{overflow-x:auto" in page
    html = render_html(render_markdown([("p", "**bold** and `code`"), ("note", "careful")]), tmp_path)
    assert "<strong>bold</strong>" in html and "<code>code</code>" in html and "<blockquote>" in html


def test_report_only_draws_the_figure(tmp_path, capsys):
    out = _study_folder(tmp_path, "bandai", _results("bandai"))
    assert main(["study", "--report-only", "--out", str(out)]) == 0
    assert (out / REPORT_FIGURE).is_file() and "report.html" in capsys.readouterr().out


def test_the_report_shows_what_each_notebook_cost(tmp_path):
    out = _study_folder(tmp_path, "bandai", _results("bandai"))
    prov = json.loads((out / "provenance.json").read_text())
    prov.update(wall_s=100.0, data=dict(loaded=dict(load_s=3.2, workers_peak_rss_mib=300.0)))
    prov["notebooks"][0].update(wall_s=90.0, cpu_s=170.4, peak_rss_mib=800.2,
                                top_stages=[dict(cell=7, s=80.0, stage="res = cross_validate(model, X, y)")])
    import nbformat                                  # a record from before stages were kept: read from the executed copy
    cell = nbformat.v4.new_code_cell("# the slow part\nfit()")
    cell.metadata["papermill"] = dict(duration=12.5)
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), out / "executed.ipynb")
    prov["notebooks"].append(dict(name="03_old", status="ok", wall_s=13.0, executed="executed.ipynb"))
    md = write_report(out, prov)[0].read_text()
    cost = md[md.index("### What it cost"):]
    assert "| 03_old" in cost and "`the slow part` (cell 1, 12.5 s)" in cost
    row = next(l for l in cost.splitlines() if l.startswith("| 02_toy"))
    assert [c.strip() for c in row.strip("|").split("|")] == [
        "02_toy", "90.0 s", "170", "800", "`res = cross_validate(model, X, y)` (cell 7, 80.0 s)"]
    assert "| whole run" in cost and "| data: load_dataset, before the notebooks" in cost


def test_publishing_copies_the_record_of_a_finished_run_only(tmp_path):
    from emomotion.publish import publish_results
    from emomotion.report import read_results
    out = _study_folder(tmp_path / "study", "bandai", _results("bandai"))
    prov = json.loads((out / "provenance.json").read_text())
    (out / "provenance.json").write_text(json.dumps(dict(prov, status="failed")))
    with pytest.raises(ValueError, match="provenance.json: status 'failed'"):
        publish_results(out, tmp_path / "results")
    (out / "provenance.json").write_text(json.dumps(prov))
    dest = publish_results(out, tmp_path / "results")
    assert dest == tmp_path / "results" / "bandai-quick"
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()) == [
        "provenance.json", "tables/results.csv"]                  # the small text record, nothing else
    assert read_results(dest).equals(read_results(out)) and json.loads((dest / "provenance.json").read_text())["status"] == "ok"


# ---------------------------------------------------------------- one screen, a contents list, folded chapters
def test_the_headline_figure_fits_one_screen_with_many_models(tmp_path):
    from PIL import Image
    many = pd.concat([_results().assign(model=f"model {i}", accuracy=0.2 + i / 50) for i in range(30)], ignore_index=True)
    w, h = Image.open(headline_figure(many, tmp_path / "h.png")).size
    assert w <= 1800 and h <= 1000, (w, h)                  # was 770 x 3,875 px for the quick study's 40 rows


def test_a_quick_report_says_on_every_table_that_its_numbers_are_not_results(tmp_path):
    from emomotion.report import QUICK_TABLE
    folder = _study_folder(tmp_path / "q", "synthetic", _results("synthetic"))
    md = write_report(folder)[0].read_text()
    assert "Quick profile: smoke-test values, not results" in md.split("## ")[0]     # the banner, before any section
    captions = [line for line in md.splitlines() if line.startswith("**Table") or "Quick profile" in line]
    n_tables = sum(1 for line in md.splitlines() if line.startswith("|:") or line.startswith("|-"))
    assert md.count(QUICK_TABLE) >= n_tables > 0, (n_tables, captions[:5])
    prov = json.loads((folder / "provenance.json").read_text())
    prov["parameters"]["profile"] = "full"
    assert QUICK_TABLE not in write_report(folder, prov)[0].read_text()


def test_contents_link_to_heading_anchors_numbers_do_not_wrap_and_chapters_fold(tmp_path):
    from emomotion.report import slug
    folder = _study_folder(tmp_path / "s", "synthetic", _results("synthetic"))
    md_path, page_path = write_report(folder)
    md, page = md_path.read_text(), page_path.read_text()
    assert "**Contents**" in md and md.index("**Contents**") < md.index("## Headline")
    link = f"(#{slug('Headline: every model under every protocol')})"
    assert link in md and f'id="{slug("Headline: every model under every protocol")}"' in page
    import re
    assert re.search(r'<td[^>]* class="num">0.600 ± 0.050</td>', page)              # CSS: td.num never wraps
    assert "td.num{white-space:nowrap" in page and not re.search(r'<td[^>]* class="num">02_toy', page)
    assert '<details><summary>02_toy' in page and "</details>" in page
    assert page.count("<details>") == page.count("</details>")
    assert "&lt;details&gt;" not in page and "<script>" not in page        # ours is HTML; the tables' text is not

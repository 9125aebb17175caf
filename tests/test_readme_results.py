"""README's results tables are made from the committed study records in `results/` (`emomotion.report`), never typed:
README must be exactly what `python -m emomotion.report readme` writes, and every published record names its run."""
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from emomotion.report import RESULTS_DIR, main, read_results, results_name, update_readme

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = sorted(p for p in (ROOT / RESULTS_DIR).glob("*") if (p / "provenance.json").is_file())


def test_readme_matches_the_committed_results():
    changed = update_readme(ROOT / "README.md", ROOT / RESULTS_DIR, check=True)
    assert changed == [], (f"README.md's results blocks {changed} differ from what results/ gives: "
                           "run `python -m emomotion.report readme` (and commit README.md with results/)")


def test_there_are_published_results_and_readme_shows_each():
    assert PUBLISHED, "results/ holds no published study (results/<dataset>-<profile>/provenance.json)"
    readme = (ROOT / "README.md").read_text()
    for folder in PUBLISHED:
        assert f"<!-- results:{folder.name} -->" in readme


@pytest.mark.parametrize("folder", PUBLISHED, ids=[p.name for p in PUBLISHED])
def test_every_published_run_can_be_traced(folder):
    prov = json.loads((folder / "provenance.json").read_text())
    assert prov["status"] == "ok"
    assert re.fullmatch(r"[0-9a-f]{40}", prov["git"]["commit"]), "the commit the study ran on"
    assert prov["command"].startswith("emomotion study ")
    params = prov["parameters"]
    assert folder.name == results_name(params, prov.get("whole_study", False))
    results = read_results(folder)
    assert len(results) and set(results.dataset) == {params["dataset"]}
    ran = {(r["dataset"], r["model"], r["protocol"]) for n in prov["notebooks"] for r in n.get("results", [])}
    assert {tuple(map(str, k)) for k in results[["dataset", "model", "protocol"]].itertuples(index=False)} <= ran, \
        "every published row was written by a notebook of this run"


@pytest.fixture
def checkout(tmp_path):
    "A copy of README.md and results/ to tamper with."
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    shutil.copytree(ROOT / RESULTS_DIR, tmp_path / RESULTS_DIR)
    return tmp_path


def test_a_hand_edit_of_a_table_is_found(checkout):
    readme = checkout / "README.md"
    text = readme.read_text()
    name = PUBLISHED[0].name
    start = text.index(f"<!-- results:{name} -->")
    cell = re.compile(r"\| (0\.\d{3}) ± ").search(text, start)         # the first accuracy in the block
    readme.write_text(text[:cell.start(1)] + ("0.999" if cell[1] != "0.999" else "0.998") + text[cell.end(1):])
    assert update_readme(readme, check=True) == [name]
    assert main(["readme", "--check", "--readme", str(readme)]) == 1
    assert main(["readme", "--readme", str(readme)]) == 0 and readme.read_text() == text


def test_a_new_result_changes_the_table(checkout):
    name = PUBLISHED[0].name
    csv = checkout / RESULTS_DIR / name / "tables" / "results.csv"
    res = pd.read_csv(csv, keep_default_na=False, na_values=[""])
    res.loc[0, "accuracy"] = 1 - float(res.loc[0, "accuracy"])
    res.to_csv(csv, index=False)
    assert update_readme(checkout / "README.md", check=True) == [name]


def test_published_results_without_a_block_and_a_block_without_results_are_errors(checkout, capsys):
    (checkout / RESULTS_DIR / "bandai-full").mkdir()
    shutil.copytree(checkout / RESULTS_DIR / PUBLISHED[0].name, checkout / RESULTS_DIR / "bandai-full", dirs_exist_ok=True)
    with pytest.raises(ValueError, match=r"no <!-- results:bandai-full --> block"):
        update_readme(checkout / "README.md", check=True)
    readme = checkout / "README.md"
    readme.write_text(readme.read_text() + "\n<!-- results:kinematic-full -->\n<!-- /results -->\n")
    lineno = readme.read_text().splitlines().index("<!-- results:kinematic-full -->") + 1
    with pytest.raises(SystemExit) as e:
        main(["readme", "--check", "--readme", str(readme)])
    assert e.value.code == 2
    assert f"README.md, line {lineno}: <!-- results:kinematic-full -->: no published results" in capsys.readouterr().err


def test_every_published_name_can_be_a_readme_block():
    "A run of several notebooks is published as `...-only-02+05b`: README's block markers must accept that name."
    from emomotion.report import _OPEN, results_name
    name = results_name(dict(dataset="bandai", profile="full", only=["02_baselines", "05b_skeleton_models"]))
    assert name == "bandai-full-only-02+05b"
    assert _OPEN.fullmatch(f"<!-- results:{name} -->").group("name") == name

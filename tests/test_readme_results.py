"""The results tables are made from the committed study records in `results/` (`emomotion.report`), never typed:
README.md's headline and RESULTS.md's blocks must be exactly what `python -m emomotion.publish readme` writes, every
published record names its run, and no tracked record carries a path of the machine that made it."""
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from emomotion.publish import (RESULTS_DIR, finished_notebooks, headline_summary, main, publish_results, results_name,
                               update_readme)
from emomotion.report import read_results

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = sorted(p for p in (ROOT / RESULTS_DIR).glob("*") if (p / "provenance.json").is_file())


@pytest.mark.parametrize("name", ["README.md", "RESULTS.md"])
def test_generated_blocks_match_the_committed_results(name):
    changed = update_readme(ROOT / name, ROOT / RESULTS_DIR, check=True)
    assert changed == [], (f"{name}'s results blocks {changed} differ from what results/ gives: "
                           f"run `python -m emomotion.publish readme` (and commit {name} with results/)")


def test_there_are_published_results_and_results_md_shows_each():
    assert PUBLISHED, "results/ holds no published study (results/<dataset>-<profile>/provenance.json)"
    results = (ROOT / "RESULTS.md").read_text()
    for folder in PUBLISHED:
        assert f"<!-- results:{folder.name} -->" in results
    assert "<!-- headline -->" in (ROOT / "README.md").read_text()


def test_readme_is_short_and_its_headline_puts_real_data_first():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.encode()) <= 20_000, f"README.md is {len(readme.encode())} bytes; the full tables go in RESULTS.md"
    assert "this round" not in readme.lower() and "this round" not in (ROOT / "RESULTS.md").read_text().lower()
    table = headline_summary(ROOT / RESULTS_DIR)
    columns = list(table.columns[1:])
    assert columns and "pipeline check" in columns[-1] and not any("pipeline check" in c for c in columns[:-1])
    assert table.model.iloc[-1] == "chance" and len(table) <= 16


# a path of the machine that made a run: an absolute folder of a Unix or macOS machine
MACHINE_PATH = re.compile(r"(?<![\w.~])/(tmp|work|root|home|Users|srv|mnt|var|opt)/")


def test_no_tracked_record_names_a_folder_of_the_machine_that_made_it():
    files = [ROOT / "README.md", ROOT / "RESULTS.md", *sorted((ROOT / RESULTS_DIR).rglob("*.json"))]
    found = [f"{f.relative_to(ROOT)}: {m.group(0)}…" for f in files for m in MACHINE_PATH.finditer(f.read_text())]
    assert not found, f"machine paths in tracked files (publish with placeholders): {found[:5]}"


def test_publish_writes_placeholders_for_the_machine_paths(tmp_path):
    study, data = tmp_path / "run", tmp_path / "bandai-copy"
    shutil.copytree(PUBLISHED[0], study)
    prov = json.loads((study / "provenance.json").read_text())
    prov["parameters"].update(data_dir=str(data), out=str(study), nbs_dir=str(tmp_path / "checkout" / "nbs"))
    prov["data"] = dict(prov.get("data") or {}, path=str(data))
    prov["command"] = f"emomotion study --dataset {prov['parameters']['dataset']} --data {data} --out {study}"
    (study / "provenance.json").write_text(json.dumps(prov))
    dest = publish_results(study, tmp_path / "results")
    text = (dest / "provenance.json").read_text()
    assert str(tmp_path) not in text and not MACHINE_PATH.search(text)
    assert json.loads(text)["command"].endswith("--data DATA_DIR --out OUT_DIR")


@pytest.mark.parametrize("folder", PUBLISHED, ids=[p.name for p in PUBLISHED])
def test_every_published_run_can_be_traced(folder):
    prov = json.loads((folder / "provenance.json").read_text())
    assert prov["status"] == "ok"
    assert re.fullmatch(r"[0-9a-f]{40}", prov["git"]["commit"]), "the commit the study ran on"
    assert prov["command"].startswith("emomotion study ")
    params = prov["parameters"]
    assert folder.name == results_name(params, prov.get("whole_study", False), finished_notebooks(prov))
    results = read_results(folder)
    assert len(results) and set(results.dataset) == {params["dataset"]}
    ran = {(r["dataset"], r["model"], r["protocol"]) for n in prov["notebooks"] for r in n.get("results", [])}
    assert {tuple(map(str, k)) for k in results[["dataset", "model", "protocol"]].itertuples(index=False)} <= ran, \
        "every published row was written by a notebook of this run"


@pytest.fixture
def checkout(tmp_path):
    "A copy of README.md, RESULTS.md and results/ to tamper with."
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    shutil.copy(ROOT / "RESULTS.md", tmp_path / "RESULTS.md")
    shutil.copytree(ROOT / RESULTS_DIR, tmp_path / RESULTS_DIR)
    return tmp_path


def test_a_hand_edit_of_a_table_is_found(checkout):
    readme = checkout / "RESULTS.md"
    text = readme.read_text()
    name = PUBLISHED[0].name
    start = text.index(f"<!-- results:{name} -->")
    cell = re.compile(r"\| (0\.\d{3}) ± ").search(text, start)         # the first accuracy in the block
    readme.write_text(text[:cell.start(1)] + ("0.999" if cell[1] != "0.999" else "0.998") + text[cell.end(1):])
    assert update_readme(readme, check=True) == [name]
    assert main(["readme", "--check", "--readme", str(readme)]) == 1
    assert main(["readme", "--readme", str(readme)]) == 0 and readme.read_text() == text


def test_a_new_result_changes_the_table(checkout):
    name = next(p.name for p in PUBLISHED if p.name.startswith("bandai-full"))     # a run README's headline shows
    csv = checkout / RESULTS_DIR / name / "tables" / "results.csv"
    res = pd.read_csv(csv, keep_default_na=False, na_values=[""])
    row = res.index[(res.model == "Random Forest") & (res.protocol == "groups")][0]
    res.loc[row, "accuracy"] = 1 - float(res.loc[row, "accuracy"])
    res.to_csv(csv, index=False)
    assert update_readme(checkout / "RESULTS.md", check=True) == [name]
    assert update_readme(checkout / "README.md", check=True) == ["headline"]
    assert main(["readme", "--check", "--readme", str(checkout / "README.md")]) == 1
    assert main(["readme", "--readme", str(checkout / "README.md")]) == 0
    assert f"{1 - 0.820312:.3f}" in (checkout / "README.md").read_text()


def test_published_results_without_a_block_and_a_block_without_results_are_errors(checkout, capsys):
    (checkout / RESULTS_DIR / "bandai-full").mkdir()
    shutil.copytree(checkout / RESULTS_DIR / PUBLISHED[0].name, checkout / RESULTS_DIR / "bandai-full", dirs_exist_ok=True)
    with pytest.raises(ValueError, match=r"no <!-- results:bandai-full --> block"):
        update_readme(checkout / "RESULTS.md", check=True)
    readme = checkout / "RESULTS.md"
    readme.write_text(readme.read_text() + "\n<!-- results:kinematic-full -->\n<!-- /results -->\n")
    lineno = readme.read_text().splitlines().index("<!-- results:kinematic-full -->") + 1
    with pytest.raises(SystemExit) as e:
        main(["readme", "--check", "--readme", str(readme)])
    assert e.value.code == 2
    assert f"RESULTS.md, line {lineno}: <!-- results:kinematic-full -->: no published results" in capsys.readouterr().err


def test_every_published_name_can_be_a_readme_block():
    "A run of several notebooks is published as `...-only-02+05b`: README's block markers must accept that name."
    from emomotion.publish import _OPEN, results_name
    name = results_name(dict(dataset="bandai", profile="full", only=["02_baselines", "05b_skeleton_models"]))
    assert name == "bandai-full-only-02+05b"
    assert _OPEN.fullmatch(f"<!-- results:{name} -->").group("name") == name


def test_a_later_run_supersedes_the_rows_it_repeats(checkout):
    "A run published later wins: its rows lead README's headline and the older block leaves them out, naming the run."
    from emomotion.publish import superseded_rows
    old = next(p.name for p in PUBLISHED if p.name.startswith("bandai-full"))
    new = checkout / RESULTS_DIR / f"{old}-later"
    shutil.copytree(checkout / RESULTS_DIR / old, new)
    prov = json.loads((new / "provenance.json").read_text())
    prov["finished"] = "2999-01-01T00:00:00+00:00"
    (new / "provenance.json").write_text(json.dumps(prov))
    res = pd.read_csv(new / "tables" / "results.csv", keep_default_na=False, na_values=[""])
    rf = (res.model == "Random Forest") & (res.protocol == "groups")
    res.loc[rf, "accuracy"] = 0.123456
    res[rf].to_csv(new / "tables" / "results.csv", index=False)          # the later run repeats one row
    gone = superseded_rows(checkout / RESULTS_DIR / old, checkout / RESULTS_DIR)
    assert list(gone.model) == ["Random Forest"] and set(gone.by) == {new.name}
    assert superseded_rows(new, checkout / RESULTS_DIR).empty               # nothing is newer than the newest
    head = headline_summary(checkout / RESULTS_DIR)
    col = next(c for c in head.columns if c.startswith("Bandai-Namco emotions"))
    assert head.loc[head.model == "Random Forest", col].iloc[0].startswith("0.123")
    readme = checkout / "RESULTS.md"
    readme.write_text(readme.read_text() + f"\n<!-- results:{new.name} -->\n<!-- /results -->\n")
    update_readme(readme)
    block = readme.read_text().split(f"<!-- results:{old} -->")[1].split("<!-- /results -->")[0]
    assert f"1 by `results/{new.name}/`" in block and "| Random Forest " in block     # its stratified row stays
    assert "0.820 ± 0.233" in (ROOT / "RESULTS.md").read_text()           # the older run's groups row...
    assert "0.820 ± 0.233" not in block                                  # its groups row is the later run's

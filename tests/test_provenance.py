"""What a study run records (`emomotion.provenance`) and which notebooks the runner runs (`provenance.find_notebooks`)."""
import json
from pathlib import Path

import pandas as pd

from emomotion.provenance import (REPORT_FIGURE, load_provenance, machine, same_study, skipped_files, snapshot)
from emomotion.study import RUNNER_MODULES, find_notebooks, is_runner_notebook, write_notebook

ROOT = Path(__file__).resolve().parents[1]


def test_the_runner_runs_every_chapter_and_none_of_its_own_notebooks():
    nbs = sorted((ROOT / "nbs").glob("[0-9]*.ipynb"))
    runner = [p.stem for p in nbs if is_runner_notebook(p)]
    assert set(runner) == {"07_study", "07a_provenance", "07b_report", "07c_cli", "07d_publish"}
    assert [p.stem for p in find_notebooks(ROOT / "nbs")] == [p.stem for p in nbs if p.stem not in runner]


def test_a_notebook_is_the_runners_by_the_module_it_exports(tmp_path):
    for module in RUNNER_MODULES:
        write_notebook(tmp_path / f"09_{module}x.ipynb", [f"#| default_exp {module}"])
    write_notebook(tmp_path / "08_pages.ipynb", ["# md #| default_exp report", "x = 1"])   # markdown: not a directive
    write_notebook(tmp_path / "10_chapter.ipynb", ["#| default_exp baselines"])
    (tmp_path / "11_report.ipynb").write_text("not json")                               # unreadable: its name says
    assert [p.stem for p in find_notebooks(tmp_path)] == ["08_pages", "10_chapter"]


def test_snapshot_and_what_a_run_records(tmp_path):
    (tmp_path / "figures").mkdir()
    (tmp_path / REPORT_FIGURE).write_bytes(b"x")
    (tmp_path / "figures" / "a.png.tmp").write_bytes(b"x")
    assert list(snapshot(tmp_path)) == [REPORT_FIGURE]
    assert {"python", "platform", "machine", "cpu_count"} <= set(machine())
    assert load_provenance(tmp_path) is None
    (tmp_path / "provenance.json").write_text(json.dumps(dict(parameters=dict(dataset="bandai", seed=1))))
    prov = load_provenance(tmp_path)
    assert same_study(prov, prov) and not same_study(prov, dict(parameters=dict(dataset="bandai", seed=2)))


def test_skipped_files_join_both_sources_once(tmp_path):
    (tmp_path / "tables").mkdir()
    pd.DataFrame(dict(path=["a.bvh"], error=["line 2: bad"])).to_csv(tmp_path / "tables" / "skipped.csv", index=False)
    rec = skipped_files(tmp_path, dict(skipped=[dict(path="a.bvh", error="line 2: bad")]))
    assert rec["count"] == 1 and rec["files"] == [dict(path="a.bvh", error="line 2: bad", stage="load_dataset")]


def test_the_fingerprint_covers_file_info_csv(make_tiny_kinematic):
    "file-info.csv decides the labels: editing it changes the data fingerprint (it did not before)."
    from emomotion.provenance import fingerprint
    root = make_tiny_kinematic(5)
    before = fingerprint(root, "kinematic")
    info = root / "file-info.csv"
    info.write_text(info.read_text().replace("Happy", "Sad", 1))
    after = fingerprint(root, "kinematic")
    assert after["files"] == before["files"] == 15 and after["sha256"] != before["sha256"]


def test_the_cost_of_a_notebook_names_its_slowest_cells_and_counts_its_workers(tmp_path):
    "What the runner records per notebook (`notebook_cost`): CPU seconds of the kernel and its workers, the slowest cells."
    from emomotion.evaluate import ResourceMeter
    from emomotion.provenance import notebook_cost
    from emomotion.study import execute_notebook
    burn = "import time\nwhile time.process_time() < 1.0: pass"
    write_notebook(tmp_path / "nb.ipynb", [
        "#| export\nimport time", "# wait a little\ntime.sleep(0.6)",
        f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {burn!r}], check=True)", "x = 1"])
    with ResourceMeter(interval=0.1, include_self=False) as meter:
        execute_notebook(tmp_path / "nb.ipynb", tmp_path / "executed.ipynb", {})
    cost = notebook_cost(tmp_path / "executed.ipynb", meter)
    assert cost["cpu_s"] >= 1.0                          # the worker's second of CPU (and the kernel's own)
    stages = cost["top_stages"]
    assert [(t["cell"], t["stage"]) for t in stages[:2]] == [(3, "import subprocess, sys"), (2, "wait a little")]
    assert len(stages) == 3 and stages[0]["s"] >= 1.0 and stages[1]["s"] >= 0.6
    assert notebook_cost(tmp_path / "nb.ipynb")["top_stages"] == []     # never executed: no timings, no guess


def test_skipped_files_name_the_loaders_stage(tmp_path):
    "The loader's rows carry stage `load_dataset` (they had NaN, shown as 'nan' in provenance.json and the report)."
    (tmp_path / "tables").mkdir()
    pd.DataFrame(dict(path=["b.bvh"], error=["3 frames"], stage=["build_sequences"])).to_csv(
        tmp_path / "tables" / "skipped.csv", index=False)
    rec = skipped_files(tmp_path, dict(skipped=[dict(path="a.bvh", error="line 2: bad")]))
    assert rec["files"] == [dict(path="a.bvh", error="line 2: bad", stage="load_dataset"),
                            dict(path="b.bvh", error="3 frames", stage="build_sequences")]

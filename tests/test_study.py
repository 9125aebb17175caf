"""`emomotion study` end to end: the quick study on generated data, its report, its determinism, and its errors.

The quick study runs ONCE per test session (a module-scoped fixture, through `python -m emomotion.study`); the tests
that read it are marked `study` and left out of the default test command (CI runs `pytest tests -m "notebooks or study"`);
the determinism check re-runs only the cheapest notebooks (`CHEAP`) and compares their tables with the
first run's. The notebooks' own tests run separately, in tests/test_notebooks.py.
"""
import fnmatch
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from emomotion.provenance import REPORT_FIGURE, fingerprint
from emomotion.report import display_name, model_family, read_results
from emomotion.cli import main
from emomotion.study import (DATA_SOURCES, TIMING_COLUMNS, NotebookError, compare_tables, find_notebooks,
                             is_runner_notebook, run_study, select_notebooks, write_notebook)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = find_notebooks(ROOT / "nbs")
# which published model families each model notebook must report (under both protocols)
FAMILIES = {"02_baselines": {"rf", "svm", "gb"}, "03_mlp": {"mlp"}, "04_lstm": {"lstm"}, "05_stgcn": {"stgcn"}}
PROTOCOLS = {"stratified", "actors"}              # the two protocols of every model on generated data
# the tables and figures each notebook must write (glob pattern, at least how many); a notebook not listed
# here (00_bvh, 01a_evaluate, 02a_torchfit: library notebooks tested on their own arrays) may write nothing
EXPECTED = {
    "00a_datasets": [("figures/*.png", 1)],
    "01_features": [("tables/features_summary.csv", 1), ("figures/*.png", 1)],
    "02_baselines": [(f"tables/baselines_*_{part}.csv", 6) for part in ("folds", "report", "confusion")]
                    + [("figures/baselines_*_confusion.png", 6), ("figures/baselines_*_per_class_f1.png", 2)],
    "03_mlp": [(f"tables/mlp_*_{part}.csv", 2) for part in ("folds", "report", "confusion")]
              + [("figures/mlp_*_optuna_history.png", 2), ("figures/mlp_*_optuna_importance.png", 1)],
    "04_lstm": [(f"tables/lstm_*_{part}.csv", 2) for part in ("folds", "report", "confusion")]
               + [("figures/lstm_*.png", 3)],
    "05_stgcn": [(f"tables/stgcn_*_{part}.csv", 2) for part in ("folds", "report", "confusion")]
                + [("tables/stgcn_ablation.csv", 1), ("figures/stgcn_*.png", 3)],
    "05a_moemo": [("tables/moemo_*_folds.csv", 2), ("tables/moemo_ablation.csv", 1), ("figures/moemo_*.png", 3)],
    "05b_skeleton_models": [("tables/skeleton_*_folds.csv", 2), ("tables/skeleton_models.csv", 1),
                            ("tables/skeleton_models_cost.csv", 1), ("figures/part_transformer_attention.png", 1)],
    "06_emokine_loocv": [("tables/emokine_*.csv", 2), ("figures/emokine_*.png", 2)],
    "09_personalisation": [("tables/personalisation_*.csv", 1), ("figures/personalisation_*_accuracy_vs_k.png", 1)],
    "10_affect": [("tables/affect_*_metrics.csv", 1), ("tables/affect_*_choice.csv", 1), ("figures/*circumplex*.png", 1)],
    "11_explanations": [("tables/explanations_agreement.csv", 1), ("tables/fairness_groups.csv", 1),
                        ("tables/fairness_spread.csv", 1), ("figures/explanations_joint_importance.png", 1),
                        ("figures/*.gif", 1)],
}
CHEAP = ["01", "02"]                              # re-run for the determinism check


def _files(folder: Path) -> set:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} if folder.is_dir() else set()


def _study(out: Path, cache: Path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emomotion.study", "--profile", "quick", "--out", str(out),
                           "--cache", str(cache), *args], cwd=ROOT, capture_output=True, text=True, timeout=1800)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    "A cache folder of this module's own, so that what the study caches (and re-uses) can be seen."
    return tmp_path_factory.mktemp("study_cache")


@pytest.fixture(scope="module")
def quick(tmp_path_factory, cache):
    "The whole quick study on generated data, run once: (out folder, provenance, stdout)."
    out = tmp_path_factory.mktemp("quick_study")
    proc = _study(out, cache)
    assert proc.returncode == 0, f"quick study failed:\n{proc.stdout[-2500:]}\n{proc.stderr[-2500:]}"
    return out, json.loads((out / "provenance.json").read_text()), proc.stdout


def _by_name(prov) -> dict:
    return {n["name"]: n for n in prov["notebooks"]}


def test_there_are_notebooks_to_run():
    names = [p.stem for p in NOTEBOOKS]
    assert names == sorted(names) and not any(is_runner_notebook(p) for p in NOTEBOOKS)
    assert not {"07_study", "07a_provenance", "07b_report"} & set(names)
    assert set(FAMILIES) <= set(names), f"model notebooks missing from nbs/: {set(FAMILIES) - set(names)}"
    assert [p.stem for p in select_notebooks(NOTEBOOKS, "02")] == ["02_baselines"]


@pytest.mark.study
def test_every_notebook_ran(quick):
    out, prov, stdout = quick
    assert prov["status"] == "ok" and prov["parameters"]["profile"] == "quick"
    runs = _by_name(prov)
    assert list(runs) == [p.stem for p in NOTEBOOKS]
    for name, run in runs.items():
        assert run["status"] == "ok", (name, run.get("error"))
        assert run["wall_s"] > 0 and (out / run["executed"]).is_file()
        assert f"{name} done in" in stdout                       # progress names each notebook and its time


@pytest.mark.study
def test_every_expected_table_and_figure_exists(quick):
    out, prov, _ = quick
    runs = _by_name(prov)
    assert set(EXPECTED) <= set(runs), f"notebooks missing: {set(EXPECTED) - set(runs)}"
    for name, expected in EXPECTED.items():
        made = runs[name]["outputs"]
        for pattern, at_least in expected:
            hits = [o for o in made if fnmatch.fnmatch(o, pattern)]
            assert len(hits) >= at_least, f"{name}: {len(hits)} file(s) {pattern}, expected {at_least}+ (made: {made})"
    for name, run in runs.items():
        for t in (o for o in run["outputs"] if o.endswith(".csv")):
            assert len(pd.read_csv(out / t)) > 0, t
        for f in (o for o in run["outputs"] if o.endswith(".png")):
            assert (out / f).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f
        for f in (o for o in run["outputs"] if o.endswith(".gif")):
            assert (out / f).read_bytes()[:6] in (b"GIF87a", b"GIF89a"), f
    assert (out / "tables" / "results.csv").is_file()
    for f in ("REPORT.md", "report.html", "provenance.json"):
        assert (out / f).stat().st_size > 0, f


@pytest.mark.study
def test_results_have_a_row_per_model_and_protocol(quick):
    out, prov, _ = quick
    res = read_results(out)
    assert not res.duplicated(["dataset", "model", "protocol"]).any()
    assert set(res.dataset) == {"synthetic"}
    assert res.accuracy.between(0, 1).all() and res.chance.between(0, 1).all()
    runs = _by_name(prov)
    for nb, families in FAMILIES.items():
        rows = pd.DataFrame(runs[nb]["results"])
        assert len(rows), f"{nb} appended no rows to results.csv"
        for model, g in rows.groupby("model"):
            assert PROTOCOLS <= set(g.protocol), f"{nb}: {model} lacks a protocol: {sorted(g.protocol)}"
        found = {model_family(m, nb) for m in rows.model}
        assert families <= found, f"{nb}: no result for {families - found} (models: {sorted(set(rows.model))})"
    # MoEmo: the authors' layout under both protocols, moemo-lite beside it under actors (profiles' quick `runs`)
    moemo = pd.DataFrame(runs["05a_moemo"]["results"])
    assert set(moemo[moemo.protocol == "actors"].model) == {"moemo", "moemo-lite"}
    assert {"moemo"} <= set(moemo[moemo.protocol == "stratified"].model)
    assert set(res[res.model.str.startswith("moemo")].family) == {"moemo"}
    # 05b: both skeleton models of the quick profile under both protocols
    skel = pd.DataFrame(runs["05b_skeleton_models"]["results"])
    for m in ("stgcn++", "part-transformer"):
        assert PROTOCOLS <= set(skel[skel.model == m].protocol), f"05b: {m}"
    # 09: every adaptation protocol, each beside its k = 0 baseline on the same clips
    adapt = pd.DataFrame(runs["09_personalisation"]["results"])
    assert {"actors", "actors+norm-pool7", "actors+norm-pool3", "actors+norm-skew7", "actors+bn-pool7", "actors+bn-pool3",
            "actors+bn-skew7", "actors+k1", "actors+k2", "actors+k4"} <= set(adapt.protocol)
    assert not {"actors+norm", "actors+bn"} & set(adapt.protocol)          # the withdrawn protocols are never run
    assert not set(adapt.model) & set(pd.DataFrame(runs["02_baselines"]["results"]).model)   # never over 02's rows


@pytest.mark.study
def test_report_shows_everything(quick):
    out, prov, _ = quick
    md = (out / "REPORT.md").read_text()
    page = (out / "report.html").read_text()
    res = read_results(out)
    assert "Headline" in md and "published" in md and "0.534" in md and "Generated data" in md
    assert "published no number on **synthetic** data" in md          # not the Kinematic numbers as if comparable
    for model in res.model.unique():
        assert display_name(model) in md
    made = [o for n in prov["notebooks"] for o in n.get("outputs", [])]
    for rel in made:
        if rel.endswith((".csv", ".png")):
            assert f"`{rel}`" in md, f"{rel} is not in REPORT.md"
    n_png = sum(rel.endswith(".png") for rel in made)
    assert (out / REPORT_FIGURE).is_file() and md.index(REPORT_FIGURE) < md.index("**Table 1.**")
    assert page.count('src="data:image/png;base64,') == n_png + 1 and 'src="figures/' not in page   # + the headline
    for key in ("packages", "git", "data", "parameters", "notebooks", "skipped_files", "python", "platform"):
        assert key in prov
    assert prov["packages"]["numpy"] and prov["packages"]["torch"] and prov["data"]["generated"]


@pytest.mark.study
def test_same_seed_gives_the_same_tables_and_reuses_the_cache(quick, cache, tmp_path):
    out, prov, _ = quick
    cached = _files(cache)
    assert cached, f"the quick study cached nothing under {cache}"
    assert prov["cache_dir"] == str(cache)
    proc = _study(tmp_path, cache, "--only", ",".join(CHEAP))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    again = json.loads((tmp_path / "provenance.json").read_text())
    names = [Path(o).name for n in again["notebooks"] for o in n.get("outputs", []) if o.endswith(".csv")]
    assert names, "the determinism check compared nothing"
    assert compare_tables(out, tmp_path, names) == {}
    # results.csv: the rows of the re-run notebooks are identical to the first run's
    a, b = read_results(out), read_results(tmp_path)
    drop = [c for c in a.columns if TIMING_COLUMNS.search(c)]
    key = ["dataset", "model", "protocol"]
    merged = b.drop(columns=drop).merge(a.drop(columns=drop), on=key, suffixes=("", "_first"))
    assert len(merged) == len(b)
    for c in b.columns.difference(key + drop):
        pd.testing.assert_series_equal(merged[c], merged[f"{c}_first"], check_names=False)
    assert _files(cache) == cached, "the second run recomputed what the first had cached"


def test_kinematic_without_data_fails_at_once(tmp_path, capsys):
    proc = subprocess.run([sys.executable, "-m", "emomotion.cli", "study", "--dataset", "kinematic", "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "https://physionet.org/content/kinematic-actors-emotions/2.1.0/" in proc.stderr
    assert "--data" in proc.stderr and "credentialed" in proc.stderr
    assert not (tmp_path / "o").exists()                      # nothing ran
    (tmp_path / "BVH").mkdir()
    with pytest.raises(SystemExit) as e:
        main(["study", "--dataset", "kinematic", "--data", str(tmp_path), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "not the Kinematic dataset" in err and str(tmp_path) in err
    for ds in ("emokine", "bandai"):
        with pytest.raises(SystemExit) as e:
            main(["study", "--dataset", ds, "--data", str(tmp_path / "BVH"), "--out", str(tmp_path / "o")])
        assert e.value.code == 2 and DATA_SOURCES[ds]["url"] in capsys.readouterr().err


PARAMS = 'dataset = "synthetic"\ndata_dir = None\nprofile = "quick"\nseed = 0\nout_dir = "../reports/quick"'


def test_a_failing_notebook_is_named_with_its_cell(tmp_path):
    nbs = tmp_path / "nbs"
    write_notebook(nbs / "01_fine.ipynb", [
        "import pathlib\n(pathlib.Path(out_dir) / 'tables').mkdir(parents=True, exist_ok=True)\n"
        "(pathlib.Path(out_dir) / 'tables' / 'fine.csv').write_text('a\\n1\\n')"], parameters=PARAMS)
    write_notebook(nbs / "02_broken.ipynb", ["x = 1", "def f(v):\n    return 1 / v\nf(x - 1)"], parameters=PARAMS)
    write_notebook(nbs / "03_never.ipynb", ["y = 2"], parameters=PARAMS)
    out = tmp_path / "out"
    with pytest.raises(NotebookError) as e:
        run_study(profile="quick", out=out, nbs_dir=nbs, progress=False, load_data=False, log=lambda *a: None)
    msg = str(e.value)
    assert "02_broken.ipynb" in msg and "In [4]" in msg and "ZeroDivisionError" in msg
    assert "f(x - 1)" in msg and str(out / "executed" / "02_broken.ipynb") in msg
    assert (out / "executed" / "02_broken.ipynb").is_file() and "ZeroDivisionError" in (
        out / "executed" / "02_broken.ipynb").read_text()
    assert (out / "tables" / "fine.csv").is_file() and not (out / "executed" / "03_never.ipynb").exists()
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["status"] == "failed"
    assert [n["status"] for n in prov["notebooks"]] == ["ok", "failed", "not run"]
    # through the command: exit status 1 and the same message on stderr
    proc = subprocess.run([sys.executable, "-m", "emomotion.study", "--nbs", str(nbs), "--profile", "quick",
                           "--out", str(out), "--only", "02"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "02_broken.ipynb failed in cell" in proc.stderr


# ---------------------------------------------------------------- the data fingerprint
def _clip(root: Path, rel: str, text: str = "HIERARCHY\n") -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def test_fingerprint_reads_only_what_the_loader_reads(tmp_path):
    import os
    import signal
    _clip(tmp_path, "BVH/F01/F01A0V1.bvh")
    before = fingerprint(tmp_path, "kinematic")
    _clip(tmp_path, "notes/" + "/".join("abcdefghij") + "/F01H1V1.bvh", "an unrelated file, 11 folders down")
    _clip(tmp_path, "notes/readme.txt", "not a clip")
    assert fingerprint(tmp_path, "kinematic") == before                    # the deep tree was not walked
    os.mkfifo(tmp_path / "BVH" / "F01" / "F01N0V1.bvh")                    # opening it would block for ever
    old = signal.signal(signal.SIGALRM, lambda *a: (_ for _ in ()).throw(TimeoutError("fingerprint hangs")))
    signal.alarm(30)
    try:
        fp = fingerprint(tmp_path, "kinematic")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert fp["sha256"] == before["sha256"] and fp["skipped"] == 1
    _clip(tmp_path, "BVH/F01/F01H1V1.bvh")
    assert fingerprint(tmp_path, "kinematic")["files"] == 2                 # a new clip changes it


def test_fingerprint_survives_a_non_utf8_file_name(tmp_path):
    import os
    _clip(tmp_path, "BVH/F01/F01A0V1.bvh")
    (tmp_path / "BVH" / "F01" / os.fsdecode(b"F01H1V1\xff.bvh")).write_text("HIERARCHY\n")
    fp = fingerprint(tmp_path, "kinematic")
    json.dumps(fp)
    assert fp["files"] + fp["skipped"] == 2

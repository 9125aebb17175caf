"""The `emomotion` command (`emomotion.cli`) fails fast and in one line: every argument is checked before any data
work, and every error ends it with `emomotion: error: ...` (exit status 2 for an argument, 1 for the data, the same
in every subcommand), never a traceback. Its parser imports nothing heavy, and every option says what it does. The
data runs here use a one-cell notebook folder (`--nbs`), so no real notebook runs."""
import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from emomotion import datasets as ds
from emomotion import generator
from emomotion import study
from emomotion.cli import main
from emomotion.study import write_notebook

ROOT = Path(__file__).resolve().parents[1]
EMOMOTION = [sys.executable, "-m", "emomotion.cli"]          # the console script's function (settings.ini)

PARAMS = 'dataset = "synthetic"\ndata_dir = None\nprofile = "quick"\nseed = 0\nout_dir = "x"'


def _status(argv) -> int:
    try:
        main(argv)
    except SystemExit as e:
        return e.code
    return 0


def _one_error_line(err: str) -> str:
    "The error line of stderr, checked: it is the first line after any usage line, and there is no traceback."
    assert "Traceback" not in err, err
    lines = [l for l in err.splitlines() if l.strip() and not l.startswith("usage:")]
    assert lines and lines[0].startswith("emomotion: error: "), err
    return lines[0]


@pytest.fixture
def no_data_work(monkeypatch):
    "Fail the test if the command reaches the data (loading or fingerprinting it)."
    def forbidden(*a, **k):
        raise AssertionError("data work started before the arguments were checked")
    for where, name in ((study, "prepare_data"), (study, "fingerprint"), (ds, "load_dataset"), (generator, "ensure_synthetic")):
        monkeypatch.setattr(where, name, forbidden)


@pytest.fixture
def nbs(tmp_path):
    "A study of one one-cell notebook."
    write_notebook(tmp_path / "nbs" / "01_one.ipynb", ["x = 1"], parameters=PARAMS)
    return tmp_path / "nbs"


def test_no_command_prints_the_usage_and_exits_2():
    proc = subprocess.run(EMOMOTION, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.startswith("usage: emomotion")
    assert "a command is required" in _one_error_line(proc.stderr)


@pytest.mark.parametrize("args, says", [
    (["--seed", "-1"], "--seed -1"),
    (["--seed", str(2**32)], "--seed 4294967296"),
    (["--only", ""], "names no notebook"),
    (["--only", ","], "names no notebook"),
    (["--only", "99"], "matches no notebook"),
    (["--jobs", "0"], "--jobs 0"),
    (["--backend", "dask"], "needs --scheduler"),
    (["--scheduler", "tcp://127.0.0.1:9"], "for --backend dask"),
    (["--backend", "dask", "--scheduler", "tcp://127.0.0.1:9"], "no Dask scheduler answers there"),
    (["--storage", "not a url"], "not a database URL"),
    (["--storage", "postgresql://me:pw@127.0.0.1:9/optuna"], "me:***@127.0.0.1:9/optuna: cannot connect"),
])
def test_bad_arguments_stop_before_any_data_work(tmp_path, capsys, no_data_work, args, says):
    out = tmp_path / "out"
    assert _status(["study", "--profile", "quick", "--out", str(out), "--cache", str(tmp_path / "c"), *args]) == 2
    assert says in _one_error_line(capsys.readouterr().err)
    assert not out.exists()


def test_an_empty_only_does_not_clear_the_previous_run(tmp_path, capsys, no_data_work):
    out = tmp_path / "out"
    (out / "tables").mkdir(parents=True)
    (out / "tables" / "kept.csv").write_text("a\n1\n")
    (out / "provenance.json").write_text(json.dumps(dict(notebooks=[dict(name="01", outputs=["tables/kept.csv"])])))
    assert _status(["study", "--only", "", "--out", str(out), "--cache", str(tmp_path / "c")]) == 2
    assert (out / "tables" / "kept.csv").is_file()


def test_unusable_folders_stop_before_any_data_work(tmp_path, capsys, no_data_work):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    base = ["study", "--profile", "quick", "--cache", str(tmp_path / "cache")]
    cases = [
        (["--out", str(a_file)], 2, [str(a_file), "is a file"]),                        # --out is a file
        (["--out", str(a_file / "out")], 2, [str(a_file), "cannot be created"]),       # ... below a file
        (["--out", str(tmp_path / "o"), "--cache", str(a_file)], 2, [str(a_file), "is a file"]),
        (["--out", str(tmp_path / "o"), "--dataset", "bandai", "--data", str(tmp_path / "missing")], 2,
         [str(tmp_path / "missing"), "no such folder"]),
        (["--out", str(tmp_path / "o"), "--dataset", "kinematic", "--data", str(a_file)], 2,
         [str(a_file), "is a file, not a folder"]),
    ]
    if Path("/proc/self").is_dir():                                     # a folder nobody, root included, writes in
        cases.append((["--out", "/proc/emomotion-out"], 2, ["/proc/emomotion-out", "cannot write in /proc"]))
    for args, status, says in cases:
        assert _status(base + args) == status, args
        line = _one_error_line(capsys.readouterr().err)
        assert all(s in line for s in says), (args, line)
    assert not (tmp_path / "o").exists()


def test_report_only_on_a_folder_that_is_no_study(tmp_path, capsys):
    assert _status(["study", "--report-only", "--out", str(tmp_path)]) == 2
    assert "holds no provenance.json" in _one_error_line(capsys.readouterr().err)


@pytest.fixture(scope="module")
def kin(make_tiny_kinematic):
    "A small generated Kinematic-format dataset (conftest.make_tiny_kinematic, seed 3)."
    return make_tiny_kinematic(3)


def test_broken_data_is_one_line_and_exit_1(tmp_path, capsys, kin, nbs):
    bad = tmp_path / "bad"
    shutil.copytree(kin, bad)
    for i, f in enumerate(sorted((bad / "BVH").glob("*/*.bvh"))):
        f.write_bytes(b"\xff\xfe not UTF-8 \x80" + bytes([i]))             # every file: binary, not a BVH
    status = _status(["study", "--profile", "quick", "--dataset", "kinematic", "--data", str(bad), "--nbs", str(nbs),
                      "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache")])
    line = _one_error_line(capsys.readouterr().err)
    assert status == 1 and str(bad) in line


def test_a_folder_of_symlinks_runs(tmp_path, capsys, kin, nbs):
    links = tmp_path / "links"
    for f in kin.rglob("*"):
        if f.is_file():
            (links / f.relative_to(kin)).parent.mkdir(parents=True, exist_ok=True)
            (links / f.relative_to(kin)).symlink_to(f)
    status = _status(["study", "--profile", "quick", "--dataset", "kinematic", "--data", str(links), "--nbs", str(nbs),
                      "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache")])
    err = capsys.readouterr().err
    assert status == 0 and "Traceback" not in err, err
    prov = json.loads((tmp_path / "out" / "provenance.json").read_text())
    assert prov["data"]["loaded"]["n_clips"] == 14 and prov["data"]["files"] == 15   # + file-info.csv


def test_the_report_lists_duplicates_and_file_info_conflicts(tmp_path, capsys, kin, nbs):
    data = tmp_path / "data"
    shutil.copytree(kin, data)
    first = data / "BVH" / "F01" / "F01A3V1.bvh"
    shutil.copy(first, first.with_name("F01A3V2.bvh"))                      # the same clip under a second name
    info = data / "file-info.csv"
    rows = list(csv.DictReader(info.open()))
    changed = next(r for r in rows if r["filename"] == "M01H3V1")
    changed["emotion"] = "Sad"                                              # file-info.csv says Sad, the name Happy
    with info.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    out = tmp_path / "out"
    assert _status(["study", "--profile", "quick", "--dataset", "kinematic", "--data", str(data), "--nbs", str(nbs),
                    "--out", str(out), "--cache", str(tmp_path / "cache")]) == 0, capsys.readouterr().err
    md = (out / "REPORT.md").read_text()
    assert "### Files skipped" in md and f"duplicate of {first}" in md and "F01A3V2.bvh" in md
    assert "### file-info.csv conflicts" in md and "1 conflict(s)" in md
    row = next(l for l in md.splitlines() if "M01H3V1.bvh" in l)
    assert "Happy" in row and "Sad" in row
    assert "duplicate of" in (out / "report.html").read_text()
    prov = json.loads((out / "provenance.json").read_text())
    assert [c["path"].endswith("M01H3V1.bvh") for c in prov["data"]["conflicts"]] == [True]
    assert any(f"duplicate of {first}" in s["error"] for s in prov["skipped_files"]["files"])


def test_train_checks_its_arguments_before_any_data_work(tmp_path, monkeypatch, no_data_work, capsys):
    "`emomotion train` answers a bad seed, an --out that is a file or a cache that is a file in one line, exit 2."
    from emomotion import predict
    monkeypatch.setattr(predict, "train_bundle", lambda *a, **k: (_ for _ in ()).throw(AssertionError("trained")))
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    for argv in (["train", "--model", "rf", "--out", str(tmp_path / "m"), "--seed", "-1"],
                 ["train", "--model", "rf", "--out", str(a_file)]):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 2, argv
        _one_error_line(capsys.readouterr().err)
    monkeypatch.setenv("EMOMOTION_CACHE", str(a_file))
    with pytest.raises(SystemExit) as e:
        main(["train", "--model", "rf", "--out", str(tmp_path / "m")])
    assert e.value.code == 2 and "is a file" in _one_error_line(capsys.readouterr().err)


def test_predict_is_a_command_of_emomotion(tmp_path, capsys):
    "`emomotion predict` on a folder that is no bundle: the disclaimer, one error line, exit 2."
    (tmp_path / "x.bvh").write_text("HIERARCHY\n")
    with pytest.raises(SystemExit) as e:
        main(["predict", str(tmp_path), str(tmp_path / "x.bvh")])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "not a model bundle" in _one_error_line(err.split("\n", 1)[1])


def test_jobs_reach_the_run_and_its_provenance(tmp_path, capsys, kin, nbs):
    status = _status(["study", "--profile", "quick", "--dataset", "kinematic", "--data", str(kin), "--nbs", str(nbs),
                      "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache"), "--jobs", "1"])
    assert status == 0, capsys.readouterr().err
    prov = json.loads((tmp_path / "out" / "provenance.json").read_text())
    assert (prov["parameters"]["jobs"], prov["parameters"]["backend"], prov["parameters"]["storage"]) == (1, "loky", None)
    assert "--jobs 1" in prov["command"]


# ---------------------------------------------------------------- the parser: light, versioned, every option explained
def _heavy_after(code: str) -> list[str]:
    "The heavy libraries a fresh interpreter has loaded after running `code`."
    probe = (f"import sys\ntry:\n    {code}\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in ('numpy', 'pandas', 'scipy', 'sklearn', 'torch') if m in sys.modules), file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=ROOT)
    return proc.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"], ["study", "--help"], ["predict", "--help"],
                                  ["evaluate", "--help"]])
def test_help_imports_nothing_heavy(argv):
    assert _heavy_after(f"from emomotion.cli import main; main({argv!r})") == "[]"


def test_the_console_script_is_the_cli():
    import configparser
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "settings.ini")
    assert cfg["DEFAULT"]["console_scripts"] == "emomotion=emomotion.cli:main"


def test_version(capsys):
    from emomotion import __version__
    assert _status(["--version"]) == 0
    assert capsys.readouterr().out.split() == ["emomotion", __version__]


def _subparsers():
    import argparse
    from emomotion.cli import build_parser
    return next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices


def test_every_command_and_option_is_explained():
    subs = _subparsers()
    assert set(subs) == {"study", "train", "predict", "evaluate", "cache"}
    for name, sp in subs.items():
        assert sp.description and len(sp.description) > 40, name
        for action in sp._actions:
            assert action.help and len(action.help) > 10, (name, action.dest)
    for name in ("study", "train", "evaluate"):
        assert "bandai-styles" in subs[name]._option_string_actions["--dataset"].help, name
    study_profile = subs["study"]._option_string_actions["--profile"]
    train_profile = subs["train"]._option_string_actions["--profile"]
    assert (study_profile.default, train_profile.default) == ("full", "quick")
    assert "default of study" in study_profile.help and "default of train" in train_profile.help
    assert "quick" in subs["study"].description and "full" in subs["train"].description   # each says the other's default


def test_the_names_the_parser_lists_are_those_of_the_code():
    "The parser writes the choices out (so --help loads no study code): each copy equals its home."
    from emomotion import cli
    from emomotion.bundle import MODELS
    from emomotion.evaluate import BACKENDS
    from emomotion.profiles import PROFILE_NAMES
    from emomotion.study import DATASETS
    assert (cli.DATASETS, cli.MODELS, cli.BACKENDS, cli.PROFILES) == (DATASETS, MODELS, BACKENDS, PROFILE_NAMES)


# ---------------------------------------------------------------- the same mistake, the same exit status
@pytest.mark.parametrize("command", ["study", "train"])
def test_a_bad_dataset_is_an_argument_error_in_every_command(tmp_path, capsys, no_data_work, command):
    base = [command, "--out", str(tmp_path / "out")] + (["--model", "rf"] if command == "train" else [])
    assert _status(base + ["--dataset", "bandai-style"]) == 2
    assert "invalid choice: 'bandai-style'" in _one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("command", ["study", "train"])
@pytest.mark.parametrize("dataset", ["bandai", "bandai-styles", "kinematic", "emokine"])
def test_a_real_dataset_without_data_says_what_to_pass(tmp_path, capsys, no_data_work, command, dataset):
    """No folder is guessed (not even a copy beside the checkout, which this machine has): one line naming --data,
    the folder it wants and where the dataset comes from; exit 2, before any data work."""
    from emomotion.study import DATA_SOURCES
    base = [command, "--out", str(tmp_path / "out")] + (["--model", "rf"] if command == "train" else [])
    assert _status(base + ["--dataset", dataset]) == 2
    err = capsys.readouterr().err
    line = _one_error_line(err)
    assert len([l for l in err.splitlines() if l.strip()]) == 1, err
    assert f"--dataset {dataset} needs --data DIR" in line and DATA_SOURCES[dataset]["url"] in line
    assert "--data wants" in line and "--dataset synthetic" in line
    assert not (tmp_path / "out").exists()


def test_a_symbolic_link_that_loops_is_one_line_and_exit_2(tmp_path, capsys, no_data_work):
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    bvh = tmp_path / "x.bvh"
    bvh.write_text("HIERARCHY\n")
    out = str(tmp_path / "out")
    cases = [
        ["study", "--dataset", "kinematic", "--data", str(loop), "--out", out],
        ["study", "--dataset", "bandai", "--data", str(loop / "data"), "--out", out],
        ["study", "--out", str(loop)],
        ["study", "--out", str(loop / "below")],
        ["study", "--out", out, "--cache", str(loop)],
        ["study", "--nbs", str(loop), "--out", out],
        ["study", "--report-only", "--out", str(loop)],
        ["train", "--model", "rf", "--dataset", "bandai", "--data", str(loop), "--out", out],
        ["train", "--model", "rf", "--out", str(loop)],
        ["predict", str(tmp_path), str(loop)],
        ["predict", str(tmp_path), str(bvh), "--out", str(loop)],
    ]
    for argv in cases:
        assert _status(argv) == 2, argv
        err = capsys.readouterr().err
        line = _one_error_line(err)
        assert str(loop) in line and ("loop" in line or "Too many levels of symbolic links" in line), (argv, line)


@pytest.mark.parametrize("args, says", [
    (["--window", "0"], "--window"),
    (["--hop", "-1"], "--hop"),
    (["--units", "inch"], "auto, m, cm"),
])
def test_predict_checks_its_numbers_in_the_parser(tmp_path, capsys, args, says):
    (tmp_path / "x.bvh").write_text("HIERARCHY\n")
    assert _status(["predict", str(tmp_path), str(tmp_path / "x.bvh"), *args]) == 2
    assert says in _one_error_line(capsys.readouterr().err)


def test_predict_checks_its_paths_before_the_model_loads(tmp_path, capsys):
    (tmp_path / "x.bvh").write_text("HIERARCHY\n")
    assert _status(["predict", str(tmp_path), str(tmp_path / "missing.bvh")]) == 2
    err = capsys.readouterr().err
    assert "missing.bvh: no such file or folder" in _one_error_line(err) and "Note:" not in err
    assert _status(["predict", str(tmp_path), str(tmp_path / "x.bvh"), "--out", str(tmp_path)]) == 2
    assert "is a folder" in _one_error_line(capsys.readouterr().err)


def test_python_m_emomotion_study_is_the_study_command(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "emomotion.study", "--seed", "-1", "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 2 and "--seed -1" in _one_error_line(proc.stderr)

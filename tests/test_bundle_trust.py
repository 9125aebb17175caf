"""A bundle that cannot lie, and a `predict` that loses nothing: one digest over all of a bundle (model.json included),
only regular files, every manifest field checked against a schema before anything is built, each refusal one line
naming the file; and `predict` rows for every `.bvh` named or found, names that are not UTF-8, atomic output,
arguments checked first, a note on empty columns, rounded probabilities."""
import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emomotion import bundle as B, predict as P
from emomotion.datasets import load_kinematic
from emomotion.cli import main as _main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny(make_tiny_kinematic):
    return load_kinematic(make_tiny_kinematic(5), n_jobs=1, progress=False)


@pytest.fixture(scope="module")
def rf(tiny, tmp_path_factory):
    return B.train_bundle(tiny, "rf", tmp_path_factory.mktemp("b") / "rf", evaluate=False)


@pytest.fixture(scope="module")
def lstm(tiny, tmp_path_factory):
    return B.train_bundle(tiny, "lstm", tmp_path_factory.mktemp("b") / "lstm", evaluate=False)


def _copy(bundle: Path, dst: Path) -> Path:
    dst.mkdir()
    for p in bundle.iterdir():
        (dst / p.name).write_bytes(p.read_bytes())
    return dst


def _edit(b: Path, fn, reseal: bool = True) -> Path:
    "Change model.json with `fn(meta)`; with `reseal`, recompute its digest as a careful forger would."
    meta = json.loads((b / "model.json").read_text())
    fn(meta)
    if reseal:
        _reseal(b, meta)
    (b / "model.json").write_text(json.dumps(meta))
    return b


def _reseal(b: Path, meta: dict) -> None:
    "What a forger does: the card's listed hash (id blanked), a new digest, the new id in the card."
    card = (b / "MODEL_CARD.md").read_text().replace(B.bundle_id(meta), B.CARD_ID_PLACEHOLDER)
    meta["files"]["MODEL_CARD.md"] = hashlib.sha256(card.encode()).hexdigest()
    meta["digest"] = B.bundle_digest(meta)
    (b / "MODEL_CARD.md").write_text(card.replace(B.CARD_ID_PLACEHOLDER, B.bundle_id(meta)))


def _refused(b: Path, *words) -> str:
    with pytest.raises(B.BundleError) as e:
        P.load_model(b)
    msg = str(e.value)
    assert "\n" not in msg and all(w in msg for w in words), msg
    return msg


# --- the digest ---------------------------------------------------------------------------------------------------

def test_reversed_classes_are_refused_naming_model_json(rf, tmp_path):
    b = _edit(_copy(rf, tmp_path / "b"), lambda m: m["classes"].reverse(), reseal=False)
    _refused(b, str(b / "model.json"), "digest")


def test_the_digest_covers_the_card_too(rf, tmp_path):
    b = _copy(rf, tmp_path / "b")
    card = b / "MODEL_CARD.md"
    card.write_text(card.read_text().replace("Out-of-scope uses", "Uses"))
    _refused(b, "MODEL_CARD.md", "SHA-256")


def test_bundle_id_is_in_the_card_and_printed_by_predict(rf, tiny, tmp_path, capsys):
    meta = json.loads((rf / "model.json").read_text())
    bid = B.bundle_id(meta)
    assert len(bid) == 12 and meta["digest"] == B.bundle_digest(meta)
    assert f"Bundle id `{bid}`" in (rf / "MODEL_CARD.md").read_text()
    assert _main(["predict", str(rf), tiny.index["path"].iloc[0], "--out", str(tmp_path / "p.csv")]) == 0
    assert f"bundle {bid}" in capsys.readouterr().err


# --- only regular files; nothing opened that could block -----------------------------------------------------------

def test_a_fifo_in_the_bundle_is_refused_without_blocking(rf, tmp_path):
    b = _copy(rf, tmp_path / "b")
    os.mkfifo(b / "weights.fifo")
    code = textwrap.dedent(f"""
        from emomotion import predict as P, bundle as B
        try:
            P.load_model({str(b)!r})
        except B.BundleError as e:
            print(e)""")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT,
                       env=os.environ | {"PYTHONPATH": str(ROOT)})
    assert "weights.fifo: a FIFO" in r.stdout and r.stdout.count("\n") == 1, r.stdout + r.stderr


def test_weight_file_replaced_by_a_symlink_with_a_matching_hash_is_refused(rf, tmp_path):
    b = _copy(rf, tmp_path / "b")
    (b / "model.skops").unlink()
    (b / "model.skops").symlink_to("/etc/passwd")
    _edit(b, lambda m: m["files"].update({"model.skops": B.sha256_of("/etc/passwd")}))
    _refused(b, "model.skops", "symlink")


def test_weight_file_changed_with_its_hash_is_one_line(rf, tmp_path):
    b = _copy(rf, tmp_path / "b")
    (b / "model.skops").write_bytes(b"PK\x03\x04 not a zip at all")
    _edit(b, lambda m: m["files"].update({"model.skops": B.sha256_of(b / "model.skops")}))
    _refused(b, str(b / "model.skops"), "not a readable skops file")


def test_model_json_nested_100000_levels_is_one_line(rf, tmp_path):
    b = _copy(rf, tmp_path / "b")
    (b / "model.json").write_text("[" * 100_000 + "]" * 100_000)
    _refused(b, "model.json", "nested too deeply")


# --- the schema, before anything is built --------------------------------------------------------------------------

@pytest.mark.parametrize("change, words", [
    (lambda m: m["classes"].pop(), ["field classes"]),
    (lambda m: m.update(uncertain_below="x"), ["field uncertain_below", "'x'"]),
    (lambda m: m.update(uncertain_below=float("nan")), ["field uncertain_below", "finite"]),
    (lambda m: m["inputs"].update(kind="pickle"), ["field inputs.kind"]),
    (lambda m: m["inputs"]["options"].update(shell="rm -rf /"), ["field inputs.options", "shell"]),
])
def test_bad_manifest_fields_are_named(rf, tmp_path, change, words):
    _refused(_edit(_copy(rf, tmp_path / "b"), change), "model.json", *words)


@pytest.mark.parametrize("change, words", [
    (lambda a: a["module_params"].update(hidden=10**9), ["field architecture.module_params.hidden"]),
    (lambda a: a.update(module="MLP", module_params={"hidden_dim": 1e9}), ["architecture.module_params.hidden_dim"]),
    (lambda a: a.update(module="MLP", module_params={"activation": "gelu"}), ["architecture.module_params.activation"]),
    (lambda a: a["module_params"].update(unknown_keyword=1), ["architecture.module_params", "unknown_keyword"]),
    (lambda a: a.update(input_shape=["abc"]), ["field architecture.input_shape.0"]),
    (lambda a: a.update(input_shape=[-1, 5]), ["field architecture.input_shape.0"]),
    (lambda a: a.update(n_classes=3), ["field classes", "3 outputs"]),
])
def test_architecture_is_validated_before_any_module_is_built(lstm, tmp_path, monkeypatch, change, words):
    built = []
    monkeypatch.setattr(B, "_torch_modules", lambda: built.append(1) or {})
    _refused(_edit(_copy(lstm, tmp_path / "b"), lambda m: change(m["architecture"])), "model.json", *words)
    assert not built


def test_a_width_the_weights_do_not_fill_allocates_nothing(lstm, tmp_path):
    "Within the schema's bounds but not what the file holds: compared on torch's meta device, refused naming the weights."
    b = _edit(_copy(lstm, tmp_path / "b"), lambda m: m["architecture"]["module_params"].update(hidden=4096))
    _refused(b, "weights.safetensors", "do not fit")


def test_every_model_loads_after_the_checks(lstm, tiny):
    model = P.load_model(lstm)
    out = model.predict_files(list(tiny.index["path"].iloc[:2]))
    assert (out["error"] == "").all() and model.bundle_id in repr(model)


# --- predict: every path gets a row, output written atomically ------------------------------------------------------

def test_non_utf8_name_gets_a_row_and_the_old_output_survives_a_failure(rf, tiny, tmp_path, monkeypatch):
    d = tmp_path / "in"
    d.mkdir()
    src = Path(tiny.index["path"].iloc[0])
    bad = os.path.join(os.fsencode(d), b"clip\xff.bvh")
    with open(bad, "wb") as f:
        f.write(src.read_bytes())
    out = tmp_path / "p.csv"
    assert _main(["predict", str(rf), str(d), "--out", str(out)]) == 0
    df = pd.read_csv(out, keep_default_na=False)
    assert list(df["file"]) == [str(d / "clip") + "\\xff.bvh"] and df["error"].iloc[0] == ""
    out.write_text("my previous predictions\n")
    real = pd.DataFrame.to_csv

    def dies(self, path=None, *a, **k):
        if path is None:
            return real(self, path, *a, **k)
        Path(path).write_text("label\n")                  # a header, then the write fails
        raise OSError("disk full")
    monkeypatch.setattr(pd.DataFrame, "to_csv", dies)
    with pytest.raises(OSError):
        P._cmd_predict(_args(rf, [str(d)], out=str(out)))
    assert out.read_text() == "my previous predictions\n"


def _args(model_dir, paths, **kw):
    from types import SimpleNamespace
    return SimpleNamespace(**(dict(model_dir=str(model_dir), paths=paths, out=None, window=None, hop=None, units="auto",
                                   full_precision=False) | kw))


def test_fifo_and_dangling_links_named_bvh_get_a_row(rf, tiny, tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    (d / "a_good.bvh").write_bytes(Path(tiny.index["path"].iloc[0]).read_bytes())
    os.mkfifo(d / "b_fifo.bvh")
    (d / "c_dangling.bvh").symlink_to(d / "nowhere.bvh")
    (d / "d_loop.bvh").symlink_to(d / "d_loop.bvh")
    out = P.load_model(rf).predict_files([d])
    assert [Path(f).name for f in out["file"]] == ["a_good.bvh", "b_fifo.bvh", "c_dangling.bvh", "d_loop.bvh"]
    assert out["error"].iloc[0] == "" and all(out["error"].iloc[1:] != "")
    assert "FIFO" in out["error"].iloc[1] and "b_fifo.bvh" in out["error"].iloc[1]


@pytest.mark.parametrize("argv, words", [
    (["--window", "-1"], ["--window"]), (["--window", "nan"], ["--window"]), (["--window", "0.02"], ["--window 0.02 s", "frames"]),
    (["--hop", "1"], ["--hop needs --window"]), (["--units", "feet"], ["--units"]), (["--units", "-2"], ["--units"]),
])
def test_arguments_are_checked_before_any_prediction(rf, tiny, tmp_path, monkeypatch, capsys, argv, words):
    calls = []
    monkeypatch.setattr(P.Model, "predict_inputs", lambda self, X: calls.append(1))
    out = tmp_path / "p.csv"
    try:                              # the parser's own checks end with SystemExit(2), the handler's return 2
        status = _main(["predict", str(rf), *tiny.index["path"].iloc[:2], "--out", str(out), *argv])
    except SystemExit as e:
        status = e.code
    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("emomotion: error:") and all(w in err[-1] for w in words), err
    assert not calls and not out.exists()


# --- what predict says ----------------------------------------------------------------------------------------------

def test_empty_affect_columns_are_explained_in_one_line(tiny, tmp_path, capsys):
    c = tiny.subset(np.arange(len(tiny)))
    c.index["label"] = c.index["label"].replace({"Happy": "Old", "Sad": "Childish"})
    b = B.train_bundle(c, "rf", tmp_path / "b", evaluate=False)
    assert _main(["predict", str(b), *c.index["path"].iloc[:3], "--out", str(tmp_path / "p.csv")]) == 0
    notes = [l for l in capsys.readouterr().err.splitlines() if "valence_lexicon/arousal_lexicon/dominance_lexicon empty" in l]
    assert len(notes) == 1 and "no lexicon anchor" in notes[0] and "Old" in notes[0] and "Childish" in notes[0]


def test_the_dataset_name_given_is_recorded(tiny, tmp_path, monkeypatch):
    monkeypatch.setattr(B, "load_dataset", lambda *a, **k: tiny)      # tiny.name is 'kinematic'
    b = B.train_bundle("bandai-styles", "rf", tmp_path / "b", evaluate=False)
    assert json.loads((b / "model.json").read_text())["training_data"]["dataset"] == "bandai-styles"


def test_train_prints_each_step(tmp_path, capsys):
    from emomotion.generator import generate_kinematic
    root = tmp_path / "kin"
    generate_kinematic(root, n_actors=4, seed=1, takes=1, seconds=(1.0, 1.5), median_seconds=None, n_jobs=1,
                       progress=False)              # 4 actors: each of the quick profile's 2 folds trains on 2
    assert _main(["train", "--dataset", "kinematic", "--data", str(root), "--model", "rf", "--out",
                  str(tmp_path / "b")]) == 0
    err = capsys.readouterr().err
    assert "train: cross-validation of rf" in err and "train: final fit of rf" in err
    assert err.index("cross-validation") < err.index("final fit")


def test_probabilities_are_rounded_unless_full_precision_is_asked(lstm, tiny, tmp_path):
    files = list(tiny.index["path"].iloc[:4])
    short, full = tmp_path / "short.csv", tmp_path / "full.csv"
    assert _main(["predict", str(lstm), *files, "--out", str(short)]) == 0
    assert _main(["predict", str(lstm), *files, "--out", str(full), "--full-precision"]) == 0
    a, b = pd.read_csv(short, dtype=str), pd.read_csv(full, dtype=str)
    cols = [c for c in a.columns if c.startswith("p_")] + ["confidence"]
    decimals = lambda s: len(s.split(".")[1]) if "." in s else 0
    assert max(decimals(v) for c in cols for v in a[c]) <= 4
    assert max(decimals(v) for c in cols for v in b[c]) > 4
    np.testing.assert_allclose(a[cols].astype(float), b[cols].astype(float), atol=5e-5)

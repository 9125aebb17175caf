"""`emomotion evaluate` and `external.evaluate_bundle`: a bundle measured on labelled clips it never saw — the
confusion is the one `predict` gives, class maps are explicit, unknown classes are one line and exit 2."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emomotion import bundle as B, external as E, predict as P
from emomotion.cli import main
from emomotion.datasets import load_dataset


def _status(argv) -> int:
    try:
        main(argv)
    except SystemExit as e:
        return e.code
    return 0


def _one_error_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("emomotion: error: "), err
    return lines[0]


@pytest.fixture(scope="module")
def clips():
    return load_dataset("synthetic", profile="quick", progress=False)


@pytest.fixture(scope="module")
def held_out(clips):
    "Boolean mask of the clips of two of the six actors: the bundle never sees them."
    return clips.index["actor"].isin(sorted(clips.index["actor"].unique())[:2]).to_numpy()


@pytest.fixture(scope="module")
def bundle(clips, held_out, tmp_path_factory):
    return B.train_bundle(clips.subset(~held_out), "rf", tmp_path_factory.mktemp("b") / "rf", evaluate=False)


def _relabelled(clips, mask, mapping):
    c = clips.subset(mask)
    c.index["label"] = c.index["label"].replace(mapping)
    return c


def test_the_confusion_is_what_predict_says(clips, held_out, bundle, tmp_path):
    test = clips.subset(held_out)
    res = E.evaluate_bundle(bundle, test, n_boot=200, out=tmp_path / "ev")
    pred = P.load_model(bundle).predict_files(list(test.index["path"]))
    expected = pd.crosstab(test.index["label"].to_numpy(), pred["label"].to_numpy())
    got = res.confusion.loc[:, (res.confusion.sum() > 0)]
    np.testing.assert_array_equal(got.to_numpy(), expected.loc[got.index, got.columns].to_numpy())
    acc = float((pred["label"].to_numpy() == test.index["label"].to_numpy()).mean())
    s = res.summary.set_index("scope")
    assert s.loc["all", "accuracy"] == pytest.approx(acc) and s.loc["all", "n"] == held_out.sum()
    # the bundle's own confidence, OOD score and uncertain flag, exactly as predict writes them
    by_file = pred.set_index(pred["file"].map(lambda f: Path(f).name))
    rows = res.clips.set_index(res.clips["path"].map(lambda f: Path(f).name)).loc[by_file.index]
    np.testing.assert_allclose(rows["confidence"].to_numpy(float), by_file["confidence"].to_numpy(float), atol=1e-4)
    np.testing.assert_allclose(rows["ood"].to_numpy(float), by_file["ood"].to_numpy(float), atol=1e-4)
    assert (rows["uncertain"].to_numpy(bool) == by_file["uncertain"].to_numpy(bool)).all()
    assert {"auroc_ood", "kept", "accuracy_kept", "gain_kept"} <= set(res.summary.columns)
    assert s.loc["all", "kept"] == pytest.approx(1 - by_file["uncertain"].mean())
    assert s.loc["all", "ci_low"] <= acc <= s.loc["all", "ci_high"]
    assert "actor-cluster bootstrap (2 actors" in s.loc["all", "ci_method"]
    np.testing.assert_allclose(res.clips["confidence"], pred["confidence"], atol=1e-9)
    for f in ("SUMMARY.md", "clips.csv", "summary.csv", "recall.csv", "confusion.csv", "reliability.png",
              "risk_coverage.png", "confusion.png", "risk_coverage.csv", "reliability.csv"):
        assert (tmp_path / "ev" / f).is_file(), f
    assert len(pd.read_csv(tmp_path / "ev" / "clips.csv")) == held_out.sum()


def test_swapped_labels_swap_the_confusion_rows(clips, held_out, bundle):
    base = E.evaluate_bundle(bundle, clips.subset(held_out), n_boot=50)
    swapped = E.evaluate_bundle(bundle, _relabelled(clips, held_out, {"Happy": "Sad", "Sad": "Happy"}), n_boot=50)
    np.testing.assert_array_equal(swapped.confusion.loc["Happy"], base.confusion.loc["Sad"])
    np.testing.assert_array_equal(swapped.confusion.loc["Sad"], base.confusion.loc["Happy"])
    # ... and mapping them back gives the original scores
    back = E.evaluate_bundle(bundle, _relabelled(clips, held_out, {"Happy": "Sad", "Sad": "Happy"}),
                             maps=["Happy=Sad", "Sad=Happy"], n_boot=50)
    assert back.summary["accuracy"].tolist() == pytest.approx(base.summary["accuracy"].tolist())


def test_an_unmapped_class_is_unshared_and_a_map_shares_it(clips, held_out, bundle):
    data = _relabelled(clips, held_out, {"Angry": "Rage"})
    res = E.evaluate_bundle(bundle, data, n_boot=50)
    assert res.targets["Rage"] is None and res.info["unshared"] == ["Rage"] and res.info["unseen"] == ["Angry"]
    n_rage = int((data.index["label"] == "Rage").sum())
    s = res.summary.set_index("scope")
    assert s.loc["all", "n"] == held_out.sum() - n_rage and s.loc["shared", "classes"] == 6
    assert res.confusion.loc["Rage"].sum() == n_rage              # predicted all the same, scored by no accuracy
    mapped = E.evaluate_bundle(bundle, data, maps={"Rage": "Angry"}, n_boot=50)
    base = E.evaluate_bundle(bundle, clips.subset(held_out), n_boot=50)
    assert mapped.summary["accuracy"].tolist() == pytest.approx(base.summary["accuracy"].tolist())
    assert "unshared dataset classes (predicted, scored by no accuracy): Rage" in E.summary_markdown(res)


def test_the_shared_argmax_is_restricted_to_the_shared_classes(clips, held_out, bundle):
    three = held_out & clips.index["label"].isin(["Angry", "Happy", "Sad"]).to_numpy()
    res = E.evaluate_bundle(bundle, clips.subset(three), n_boot=50)
    c = res.clips
    assert set(c["pred_shared"]) <= {"Angry", "Happy", "Sad"} and res.summary.set_index("scope").loc["shared", "classes"] == 3
    assert (c["correct_shared"] | ~c["correct"]).all()            # right over all classes => right over the shared ones
    p = c[["p_Angry", "p_Happy", "p_Sad"]].to_numpy()
    np.testing.assert_allclose(c["confidence_shared"], p.max(1) / p.sum(1))


def test_class_maps_parse_and_name_their_mistakes():
    assert E.parse_class_map(["elderly=Old"]) == {"elderly": "Old"}
    assert E.class_targets(["Angry", "elderly", "x"], ["Angry", "Old"], ["elderly=Old"]) == \
        {"Angry": "Angry", "elderly": "Old", "x": None}
    with pytest.raises(P.ArgumentError, match="the bundle has no class 'Young'"):
        E.class_targets(["elderly"], ["Old"], ["elderly=Young"])
    with pytest.raises(P.ArgumentError, match="the dataset has no class 'eldrly'"):
        E.class_targets(["elderly"], ["Old"], ["eldrly=Old"])
    with pytest.raises(P.ArgumentError, match="give SRC=DST"):
        E.parse_class_map(["elderly"])


def test_the_command_writes_the_evaluation(bundle, tmp_path, capsys):
    out = tmp_path / "ev"
    assert _status(["evaluate", str(bundle), "--profile", "quick", "--map", "Surprise=Fearful", "--out", str(out)]) == 0
    cap = capsys.readouterr()
    assert "shared: accuracy" in cap.out and "AUROC right/wrong" in cap.out and "wrote" in cap.out
    assert "Surprise → Fearful" in (out / "SUMMARY.md").read_text()


@pytest.mark.parametrize("args, says", [
    (["--map", "Angry=Furious"], "--map Angry=Furious: the bundle has no class 'Furious' (its classes: Angry"),
    (["--map", "Angry"], "--map 'Angry': give SRC=DST"),
])
def test_a_bad_map_is_one_line_and_exit_2_before_any_data_work(bundle, tmp_path, capsys, monkeypatch, args, says):
    monkeypatch.setattr(E, "load_dataset", lambda *a, **k: pytest.fail("data read before the map was checked"))
    assert _status(["evaluate", str(bundle), "--profile", "quick", "--out", str(tmp_path / "o")] + args) == 2
    assert says in _one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "o").exists()


def test_a_map_from_a_class_the_dataset_lacks_is_one_line_and_exit_2(bundle, tmp_path, capsys):
    assert _status(["evaluate", str(bundle), "--profile", "quick", "--map", "angry=Angry", "--out", str(tmp_path / "o")]) == 2
    assert "--map angry=Angry: the dataset has no class 'angry'" in _one_error_line(capsys.readouterr().err)


def test_a_missing_bundle_is_exit_2(tmp_path, capsys):
    assert _status(["evaluate", str(tmp_path / "none"), "--out", str(tmp_path / "o")]) == 2
    assert "no such folder" in _one_error_line(capsys.readouterr().err)


def test_a_transform_changes_each_clip_and_a_clip_it_breaks_costs_only_itself(clips, held_out, bundle):
    from emomotion.datasets import DatasetError
    test = clips.subset(held_out)
    base = E.evaluate_bundle(bundle, test, n_boot=50)
    same = E.evaluate_bundle(bundle, test, n_boot=50, transform=lambda p, f, i: (p, f))
    assert same.summary["accuracy"].tolist() == base.summary["accuracy"].tolist()

    def breaks_the_first(p, f, i):
        if i == 0:
            raise ValueError("this clip cannot be shifted")
        return p, f
    r = E.evaluate_bundle(bundle, test, n_boot=50, transform=breaks_the_first)
    assert r.info["n_skipped"] == 1 and "this clip cannot be shifted" in r.clips["error"].iat[0]
    assert r.summary.set_index("scope").loc["all", "n"] == held_out.sum() - 1
    with pytest.raises(DatasetError, match="none of the"):
        E.evaluate_bundle(bundle, test, n_boot=50, transform=lambda p, f, i: (p[:3], f))

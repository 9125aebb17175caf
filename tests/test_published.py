"""The published numbers (`emomotion.published`): one table, every number with its source and how it was measured,
the rule of which of our rows a number may stand beside, and no other module that types a published number again."""
import io
import tokenize
from pathlib import Path

import pandas as pd
import pytest

from emomotion import baselines, emokine
from emomotion.evaluate import FAMILIES
from emomotion.published import PUBLISHED, SOURCES, published_beside, published_text

PACKAGE = Path(__file__).resolve().parents[1] / "emomotion"
NUMBERS = ["accuracy", "accuracy_sd", "single_split", "fold_min", "fold_max", "precision", "recall", "f1"]


def test_every_number_has_a_family_a_source_and_how_it_was_measured():
    assert set(PUBLISHED.index) <= set(FAMILIES)
    assert set(PUBLISHED.source) <= set(SOURCES)
    assert PUBLISHED[["model", "data", "dataset", "where", "measured", "short"]].map(bool).all().all()
    assert PUBLISHED.accuracy.between(0, 1).all()
    assert PUBLISHED.loc[["rf", "svm", "gb"], "dataset"].eq("kinematic").all()


def test_the_report_text_is_made_from_the_numbers():
    assert PUBLISHED.published["rf"] == "0.534"
    assert PUBLISHED.published["stgcn"] == "0.567 (folds 0.53–0.63)"
    assert PUBLISHED.published["emokine"] == "0.037 (2/54, LOOCV)"
    assert PUBLISHED.accuracy["emokine"] == pytest.approx(2 / 54)        # the study's 3.7 %, from its count
    row = PUBLISHED.loc["mlp"].copy()
    row["accuracy"] = 0.7
    assert published_text(row) == "0.700 ± 0.012 (5-fold)"


def test_moemo_is_a_second_source_never_beside_our_rows():
    moemo = PUBLISHED.loc["moemo"]
    assert moemo.source == "MoEmo" and "moemo" in FAMILIES and not moemo.comparable
    assert (moemo.accuracy, moemo.f1) == (0.915, 0.887)
    assert "random split" in moemo.published and "share motions" in moemo.measured
    for dataset in ("kinematic", "bandai", "emokine", "synthetic", moemo.dataset):
        assert published_beside("moemo", dataset) == ""


@pytest.mark.parametrize("family, dataset, shown", [
    ("rf", "kinematic", True), ("stgcn", "kinematic", True), ("emokine", "emokine", True),
    ("rf", "bandai", False), ("emokine", "kinematic", False), ("ablation", "kinematic", False),
    (None, "kinematic", False), ("", "kinematic", False), (float("nan"), "kinematic", False)])
def test_a_published_number_stands_only_beside_the_same_family_on_the_same_dataset(family, dataset, shown):
    text = published_beside(family, dataset)
    assert bool(text) == shown
    if shown:
        assert text == f"{PUBLISHED.published[family]}: {PUBLISHED.short[family]}"


def test_the_chapters_read_their_numbers_from_the_table():
    study = baselines.STUDY_BASELINES
    assert list(study.index) == list(baselines.BASELINES)
    for name, fam in baselines.BASELINE_FAMILIES.items():
        assert study.loc[name].to_dict() == PUBLISHED.loc[fam, ["accuracy", "precision", "recall", "f1"]].to_dict()
    assert emokine.STUDY_LOOCV == dict(n_correct=2, n=54, n_classes=6)
    assert emokine.STUDY_LOOCV["n_correct"] == PUBLISHED.n_correct["emokine"]


def _number_literals(path: Path) -> list[tuple[int, str]]:
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
    return [(t.start[0], t.string) for t in tokens if t.type == tokenize.NUMBER]


def test_no_other_module_retypes_a_published_number():
    published = {round(float(v), 6) for v in PUBLISHED[NUMBERS].stack().dropna()}
    found = []
    for path in sorted(PACKAGE.glob("*.py")):
        if path.name in ("published.py", "_modidx.py"):
            continue
        for line, literal in _number_literals(path):
            try:
                value = float(literal)
            except ValueError:                     # 0o666, 0x80: not a published number
                continue
            if round(value, 6) in published:
                found.append(f"{path.name}:{line}: {literal}")
    assert not found, f"published numbers typed outside emomotion.published: {found}"

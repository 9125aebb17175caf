"""Tests of emomotion.profiles: one home for the quick/full settings, read by every chapter."""
import ast
import json
from pathlib import Path

import pytest

from emomotion import baselines, emokine, generator, lstm, profiles, stgcn
from emomotion.evaluate import FAMILIES
from emomotion.profiles import PROFILE_NAMES, PROFILES, SECTIONS, SHARED, check_profile, profile_settings

NBS = Path(__file__).resolve().parents[1] / "nbs"
MODEL_NOTEBOOKS = ["02_baselines", "03_mlp", "04_lstm", "05_stgcn", "06_emokine_loocv"]


def _code(name: str) -> str:
    cells = json.loads((NBS / f"{name}.ipynb").read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


def test_unknown_profile_or_section_is_one_clear_error():
    with pytest.raises(ValueError, match=r"unknown profile 'medium'; choose one of \['quick', 'full'\]"):
        profile_settings("medium", "lstm")
    with pytest.raises(ValueError, match=r"unknown profile section 'svm'; choose one of \['generator'"):
        profile_settings("quick", "svm")
    assert check_profile("full") == "full" and PROFILE_NAMES == ("quick", "full")


def test_model_sections_carry_the_shared_keys_and_the_generator_does_not():
    for name in PROFILE_NAMES:
        for section in SECTIONS:
            s = profile_settings(name, section)
            if section == "generator":
                assert not set(SHARED) & set(s)
                generator.generator_plan(**s)                      # exactly generate_kinematic's arguments
            else:
                assert {k: s[k] for k in SHARED} == {k: PROFILES[name][k] for k in SHARED}, (name, section)
    quick, full = (profile_settings(p, "baselines") for p in PROFILE_NAMES)
    assert quick["n_splits"] < full["n_splits"] and quick["inner_splits"] < full["inner_splits"]


def test_settings_are_a_copy():
    mine = profile_settings("quick", "stgcn")
    mine["runs"]["grouped"] = ()
    mine["n_splits"] = 99
    again = profile_settings("quick", "stgcn")
    assert again["runs"]["grouped"] and again["n_splits"] == PROFILES["quick"]["n_splits"]


def test_the_modules_read_the_profiles():
    "A changed profile reaches the module that uses it: there is no second copy of the settings."
    assert not hasattr(baselines, "PROFILES") and not hasattr(lstm, "LSTM_PROFILES")
    assert not hasattr(emokine, "EMOKINE_PROFILES")
    for name in PROFILE_NAMES:
        b = profile_settings(name, "baselines")
        for model in baselines.BASELINES:
            assert baselines.param_grid(model, name) == b["grids"][model]
            assert baselines.make_baseline(model, name).cv.n_splits == b["inner_splits"]
        assert baselines.base_pipeline("Random Forest", name)[-1].n_estimators == b["rf_trees"]
        assert baselines.base_pipeline("Gradient Boosting", name)[-1].max_bins == b["gb_bins"]
        assert set().union(*profile_settings(name, "stgcn")["runs"].values()) <= set(stgcn.FUSIONS)
    assert profiles._FUSIONS == stgcn.FUSIONS


@pytest.mark.parametrize("notebook", MODEL_NOTEBOOKS)
def test_model_notebooks_read_their_section_and_branch_on_no_profile_name(notebook):
    code = _code(notebook)
    section = notebook.split("_")[1]
    uses = f'profile_settings(profile, "{section}")' in code or notebook == "02_baselines"
    assert uses, f"{notebook} does not read profiles section {section!r}"
    for branch in ('profile == "quick"', 'profile == "full"', "if quick", "PROFILES["):
        assert branch not in code, f"{notebook}: {branch!r} (the profile's settings belong in emomotion.profiles)"


@pytest.mark.parametrize("notebook", MODEL_NOTEBOOKS)
def test_every_results_row_names_its_family(notebook):
    "Every `append_results` call of a model chapter passes `family=` (checked by evaluate against FAMILIES)."
    calls = [n for n in ast.walk(ast.parse(_code(notebook)))
             if isinstance(n, ast.Call) and getattr(n.func, "id", getattr(n.func, "attr", "")) == "append_results"]
    if notebook == "02_baselines":       # the notebook calls run_baselines, which appends the rows
        src = Path(baselines.__file__).read_text()
        calls = [n for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Call)
                 and getattr(n.func, "id", "") == "append_results"]
        assert set(baselines.BASELINE_FAMILIES.values()) <= set(FAMILIES)
    assert calls, notebook
    for call in calls:
        kw = {k.arg: k.value for k in call.keywords}
        assert "family" in kw, f"{notebook}: append_results without family= at line {call.lineno}"
        if isinstance(kw["family"], ast.Constant):
            assert kw["family"].value in FAMILIES

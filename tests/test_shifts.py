"""Capture shifts (`emomotion.shifts`): each does what it says — frames scale with the rate, positions with the unit,
a renamed file reads back as the same key joints through the bundle's layout tables, occluded joints stay readable."""
from pathlib import Path

import numpy as np
import pytest

from emomotion import shifts as S
from emomotion.bundle import BVH_KEY_MAPS, SkeletonError
from emomotion.bvh import read_bvh
from emomotion.bvh_writer import write_bvh
from emomotion.kinematics import MIN_FRAMES, normalise_clip, toy_clip
from emomotion.predict import read_motion
from emomotion.skeletons import KEY_JOINTS, KEY_PARENT_IDX

BANDAI = Path("/work/shared/data/bandai-namco-1/data")


@pytest.fixture(scope="module")
def pos():
    return toy_clip(125, 3.0)


@pytest.fixture(scope="module")
def kinematic_file(tmp_path_factory):
    from emomotion.generator import generate_kinematic
    root = tmp_path_factory.mktemp("gen") / "kin"
    generate_kinematic(root, n_actors=1, seed=5, takes=1, seconds=(1.0, 1.2), median_seconds=None, n_jobs=1, progress=False)
    return sorted(root.rglob("*.bvh"))[0]


def _files():
    yield "kinematic"
    if BANDAI.is_dir():
        yield "bandai"


@pytest.mark.parametrize("rate", [30, 60, 120])
def test_frame_count_scales_with_the_rate(pos, rate):
    q, f = S.change_rate(pos, 125, rate)
    assert f == rate and abs(len(q) - len(pos) * rate / 125) <= 1
    assert abs(len(q) / f - len(pos) / 125) < 2 / rate                  # the same seconds of movement
    assert np.abs(q[len(q) // 2] - pos[int(round(len(q) // 2 * 125 / rate))]).max() < 0.03


def test_positions_scale_with_the_unit(pos):
    for unit, k in (("m", 1), ("cm", 100), ("in", 1 / 0.0254)):
        np.testing.assert_allclose(S.change_units(pos, unit), pos * k)
    with pytest.raises(ValueError, match="choose one of"):
        S.change_units(pos, "mm")


def test_a_bvh_in_another_unit_reads_as_the_same_metres_where_the_unit_is_known(kinematic_file, tmp_path):
    key, fps, _ = read_motion(kinematic_file)                            # generated files are in centimetres
    b = read_bvh(kinematic_file)
    metres = write_bvh(S.scale_bvh(b, 0.01), tmp_path / "m.bvh")
    np.testing.assert_allclose(read_motion(metres)[0], key, atol=1e-4)
    inches = write_bvh(S.scale_bvh(b, 1 / 2.54), tmp_path / "in.bvh")
    # units="auto" takes inches for centimetres (a body of about 65 in lies in the 50-250 cm range): the file is read
    # 2.54 times too small, silently; the unit shift of the transfer chapter measures what that costs a model
    np.testing.assert_allclose(read_motion(inches)[0], key / 2.54, atol=1e-3)
    np.testing.assert_allclose(read_motion(inches, units=1 / 0.0254)[0], key, atol=1e-3)


@pytest.mark.parametrize("which", list(_files()))
@pytest.mark.parametrize("layout, prefix", [("cmu", ""), ("mixamo", "mixamorig:")])
def test_a_renamed_file_reads_back_as_the_same_key_joints(which, layout, prefix, kinematic_file, tmp_path):
    src = kinematic_file if which == "kinematic" else sorted(BANDAI.glob("*_angry_*.bvh"))[0]
    key, fps, found0 = read_motion(src)
    assert found0 == which
    out = write_bvh(S.rename_joints(read_bvh(src), BVH_KEY_MAPS[layout], prefix=prefix), tmp_path / f"{layout}.bvh")
    key2, fps2, found = read_motion(out)
    assert found == layout and fps2 == pytest.approx(fps)
    np.testing.assert_allclose(key2, key, atol=1e-3)
    names = read_bvh(out).joints
    assert all(n.startswith(prefix) for n in names) and prefix + BVH_KEY_MAPS[layout]["Spine3"] in names


def test_noise_and_drift_have_their_size(pos):
    n = S.add_noise(pos, 0.02, seed=3)
    assert abs((n - pos).std() - 0.02) < 0.002
    d = S.add_drift(pos, 125, 0.05, seed=3)
    np.testing.assert_allclose(np.linalg.norm(d - pos, axis=2)[-1], 0.05 * (len(pos) - 1) / 125)
    np.testing.assert_allclose(d[0], pos[0])


def test_a_missing_limb_is_held_at_its_root_and_stays_readable(pos):
    o = S.occlude(pos, "right_leg")
    hip = pos[:, KEY_JOINTS.index("RightUpLeg")]
    for j in S.LIMBS["right_leg"]:
        np.testing.assert_allclose(o[:, KEY_JOINTS.index(j)], hip)
    j = KEY_JOINTS.index("Head")
    h = S.occlude(pos, ["Head"], 0.2, 0.6)
    a, b = round(0.2 * len(pos)), round(0.6 * len(pos))
    np.testing.assert_allclose(h[a:b, j], pos[a:b, KEY_PARENT_IDX[j]])
    np.testing.assert_array_equal(h[:a], pos[:a]); np.testing.assert_array_equal(h[b:], pos[b:])
    frozen = S.occlude(pos, ["LeftHand"], 0.5, 1.0, mode="hold")
    h0, hand = round(0.5 * len(pos)), KEY_JOINTS.index("LeftHand")
    np.testing.assert_allclose(frozen[h0:, hand], np.broadcast_to(pos[h0 - 1, hand], (len(pos) - h0, 3)))
    for q in (o, h, frozen):
        assert np.isfinite(normalise_clip(q, 125)).all()                 # what every model's input starts from
    with pytest.raises(ValueError, match="Hips has no parent"):
        S.occlude(pos, ["Hips"])


def test_a_take_cut_short_keeps_its_share(pos):
    c = S.cut_short(pos, 0.3)
    assert len(c) == round(0.3 * len(pos)) and np.array_equal(c, pos[:len(c)])
    assert len(S.cut_short(pos, 0.001)) == MIN_FRAMES
    assert np.array_equal(S.cut_short(pos, 0.5, "end"), pos[-len(S.cut_short(pos, 0.5)):])


def test_shifts_leave_their_input_alone(pos):
    before = pos.copy()
    S.occlude(pos, "left_arm"); S.add_noise(pos, 0.1); S.add_drift(pos, 125, 1.0); S.change_rate(pos, 125, 30)
    np.testing.assert_array_equal(pos, before)

"""Our BVH reader and forward kinematics against independent implementations.

- Every BVH file under ../shared/data (174 Bandai Namco clips, 3 parser fixtures): joint names,
  parents, OFFSETs, End Sites and global positions of joints and End Sites agree with upc-pymotion
  (a test-only dependency) to 1e-4 of the file's units.
- Hand-made files with known answers: each of the six Euler orders (against scipy's intrinsic
  rotations and against pymotion), position channels replacing OFFSETs, partial channel sets.
- Round trip: read -> write -> read keeps everything to the printed precision, and a second write
  gives the same bytes.
"""
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from emomotion.bvh import BVH, read_bvh
from emomotion.bvh_writer import write_bvh

pymotion_bvh = pytest.importorskip("pymotion.io.bvh")
from pymotion.ops.skeleton_np import fk  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
BANDAI = sorted((DATA / "bandai-namco-1" / "data").glob("*.bvh"))
FIXTURES = sorted((DATA / "fixtures").glob("*/*.bvh"))
FILES = BANDAI + FIXTURES
TOL = 1e-4          # in the file's units (cm for Bandai, m or cm for the fixtures)


def test_all_shared_files_are_found():
    if not DATA.exists():
        pytest.skip(f"no shared data at {DATA}")
    assert len(BANDAI) == 174 and len(FIXTURES) == 3


def pymotion_fk(path):
    "Parents, names, offsets, end sites and global positions of joints and End Sites, by pymotion."
    b = pymotion_bvh.BVH()
    b.load(str(path))
    rots, local_pos, parents, offsets, end_sites, end_parents = b.get_data()
    # local_pos holds the position channels where a joint has them, else its OFFSET
    pos, rotmats = fk(rots, local_pos[:, 0, :], local_pos, parents)
    ends = pos[:, end_parents] + np.einsum("tjab,jb->tja", rotmats[:, end_parents], end_sites)
    return b.data["names"], parents, offsets, end_sites, end_parents, pos, ends


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_agrees_with_pymotion(path):
    names, parents, offsets, end_sites, end_parents, pos, ends = pymotion_fk(path)
    b = read_bvh(path)
    J = len(b.joints)
    assert b.joints == list(names)
    assert b.parents[0] == -1 and (b.parents[1:] == parents[1:]).all()
    np.testing.assert_allclose(b.offsets, offsets, rtol=0, atol=1e-9)
    assert [p for p, _ in b.end_sites] == list(end_parents)
    np.testing.assert_allclose(np.array([o for _, o in b.end_sites]), end_sites, rtol=0, atol=1e-9)
    ours = b.positions(end_sites=True)
    assert ours.shape == (b.n_frames, J + len(b.end_sites), 3)
    err_joints = np.abs(ours[:, :J] - pos).max()
    err_ends = np.abs(ours[:, J:] - ends).max()
    assert err_joints < TOL and err_ends < TOL, (err_joints, err_ends)
    # a subset of joints, in any order, gives the same numbers
    pick = [b.joints[j] for j in range(J - 1, -1, -3)]
    np.testing.assert_array_equal(b.positions(pick), ours[:, [b.joint_index(n) for n in pick]])


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_round_trip(path, tmp_path):
    b = read_bvh(path)
    f1 = write_bvh(b, tmp_path / "a.bvh")
    b2 = read_bvh(f1)
    assert b2.joints == b.joints and b2.channels == b.channels and (b2.parents == b.parents).all()
    assert b2.frame_time == b.frame_time and b2.n_frames == b.n_frames
    assert [p for p, _ in b2.end_sites] == [p for p, _ in b.end_sites]
    half = 0.5e-6 * (1 + 1e-6) + 1e-12
    assert np.abs(b2.motion - b.motion).max(initial=0) <= half + 1e-9 * np.abs(b.motion).max(initial=0)
    assert np.abs(b2.offsets - b.offsets).max() <= half + 1e-9 * np.abs(b.offsets).max()
    f2 = write_bvh(b2, tmp_path / "b.bvh")
    assert f1.read_bytes() == f2.read_bytes()


# --- hand-made files with known answers -------------------------------------------------------------

ORDERS = ["XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"]


def chain(root_chans, child_chans, motion, offsets=((0.5, 1.0, -2.0), (1.0, 2.0, 3.0), (0.0, 4.0, 1.0)),
          end=(2.0, -1.0, 0.5)):
    "root -> child -> grandchild (3 rotation channels, ZXY) -> End Site."
    return BVH(joints=["root", "child", "grand"], parents=[-1, 0, 1], offsets=np.array(offsets),
               end_sites=[(2, np.array(end))], channels=[root_chans, child_chans, ["Zrotation", "Xrotation", "Yrotation"]],
               frame_time=0.01, motion=np.asarray(motion, float))


def rot(order, angles):
    "Intrinsic rotations in `order` (upper case in scipy), degrees, (T, 3) -> (T, 3, 3)."
    return Rotation.from_euler(order, angles, degrees=True).as_matrix()


@pytest.mark.parametrize("order", ORDERS)
def test_each_euler_order_matches_scipy(order):
    rng = np.random.default_rng(ORDERS.index(order))
    T = 50
    root_ang, child_ang, grand_ang = (rng.uniform(-180, 180, (T, 3)) for _ in range(3))
    root_pos, child_pos = rng.normal(0, 10, (T, 3)), rng.normal(0, 3, (T, 3))
    rc = [a + "rotation" for a in order]
    # root: 6 channels, position first; child: rotation first, then position (replaces its OFFSET)
    b = chain(["Xposition", "Yposition", "Zposition"] + rc, rc + ["Xposition", "Yposition", "Zposition"],
              np.hstack([root_pos, root_ang, child_ang, child_pos, grand_ang]))
    R0, R1, R2 = rot(order, root_ang), rot(order, child_ang), rot("ZXY", grand_ang)
    x0 = root_pos
    x1 = x0 + np.einsum("tab,tb->ta", R0, child_pos)
    G1 = R0 @ R1
    x2 = x1 + G1 @ b.offsets[2]
    xe = x2 + (G1 @ R2) @ np.array([2.0, -1.0, 0.5])
    np.testing.assert_allclose(b.positions(end_sites=True), np.stack([x0, x1, x2, xe], 1), atol=1e-9)


@pytest.mark.parametrize("order", ORDERS)
def test_each_euler_order_matches_pymotion(order, tmp_path):
    "The same, through a file, against pymotion (3-channel child, so pymotion's layout applies)."
    rng = np.random.default_rng(10 + ORDERS.index(order))
    rc = [a + "rotation" for a in order]
    motion = np.hstack([rng.normal(0, 10, (40, 3)), rng.uniform(-180, 180, (40, 9))])
    b = chain(["Xposition", "Yposition", "Zposition"] + rc, rc, motion)
    p = write_bvh(b, tmp_path / f"{order}.bvh", precision=9)
    *_, pos, ends = pymotion_fk(p)
    np.testing.assert_allclose(read_bvh(p).positions(end_sites=True), np.concatenate([pos, ends], 1), atol=1e-6)


def test_ninety_degrees_by_hand():
    def tip(chans, angles, offset):
        b = BVH(joints=["root", "tip"], parents=[-1, 0], offsets=[(0, 0, 0), offset], end_sites=[],
                channels=[chans, []], frame_time=0.01, motion=np.array([angles], float))
        return b.positions()[0, 1]
    np.testing.assert_allclose(tip(["Zrotation"], [90], (1, 0, 0)), [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(tip(["Xrotation"], [90], (0, 1, 0)), [0, 0, 1], atol=1e-12)
    np.testing.assert_allclose(tip(["Yrotation"], [90], (0, 0, 1)), [1, 0, 0], atol=1e-12)
    # R = Rz Rx (channel order, intrinsic): Rx takes +Y to +Z, Rz leaves +Z alone
    np.testing.assert_allclose(tip(["Zrotation", "Xrotation"], [90, 90], (0, 1, 0)), [0, 0, 1], atol=1e-12)
    # R = Rx Rz: Rz takes +Y to -X, Rx leaves -X alone
    np.testing.assert_allclose(tip(["Xrotation", "Zrotation"], [90, 90], (0, 1, 0)), [-1, 0, 0], atol=1e-12)


def test_position_channels_replace_offsets():
    # child OFFSET 10 along X, its channels say (3, 0, 0): the bone is 3 long, never 13
    b = chain(["Xposition", "Yposition", "Zposition"], ["Xposition", "Yposition", "Zposition"],
              [[5, 0, 0, 3, 0, 0, 0, 0, 0]], offsets=((0, 0, 0), (10, 0, 0), (0, 1, 0)))
    np.testing.assert_allclose(b.positions()[0], [[5, 0, 0], [8, 0, 0], [8, 1, 0]])
    # one position channel replaces one coordinate only
    b = chain(["Xposition", "Yposition", "Zposition"], ["Yposition"], [[0, 0, 0, 7, 0, 0, 0]],
              offsets=((0, 0, 0), (10, 2, 3), (0, 0, 0)))
    np.testing.assert_allclose(b.positions()[0, 1], [10, 7, 3])
    # a root without position channels stands at its OFFSET
    b = chain(["Yrotation"], [], [[90, 0, 0, 0]], offsets=((1, 2, 3), (0, 0, 1), (0, 0, 0)))
    np.testing.assert_allclose(b.positions()[0, :2], [[1, 2, 3], [2, 2, 3]], atol=1e-12)


def test_rigid_bones_on_a_real_file():
    "Each joint stays at the length of its local translation from its parent, in every frame."
    path = next(iter(FIXTURES), None)
    if path is None:
        pytest.skip("no fixtures")
    b = read_bvh(path)
    pos = b.positions()
    J = len(b.joints)
    for j in range(1, J):
        t = b.offsets[j].copy() * np.ones((b.n_frames, 3))
        for c, name in zip(b.get_joint_position_indices(j), b.get_joint_channels(j)):
            if name.endswith("position"):
                t[:, "XYZ".index(name[0])] = b.motion[:, c]
        np.testing.assert_allclose(np.linalg.norm(pos[:, j] - pos[:, b.parents[j]], axis=-1),
                                   np.linalg.norm(t, axis=-1), atol=1e-9)

"""XSENS readers: position CSV and MVNX (emomotion.xsens)."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emomotion import xsens
from emomotion.xsens import XsensError

EMOKINE_CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "fixtures" / "emokine" / "positionExample.csv"


@pytest.mark.skipif(not EMOKINE_CSV.is_file(), reason="no EMOKINE fixture")
def test_emokine_csv_reader():
    m = xsens.read_xsens_csv(EMOKINE_CSV)
    assert m.positions.shape == (1661, 23, 3) and m.fps == 240 and m.segments == xsens.XSENS_SEGMENTS
    raw = pd.read_csv(EMOKINE_CSV)
    np.testing.assert_array_equal(m.positions[:, xsens.XSENS_SEGMENTS.index("LeftHand")],
                                  raw[["LeftHand_x", "LeftHand_y", "LeftHand_z"]].to_numpy())
    y = xsens.xsens_to_y_up(m.positions)
    up = lambda s: y[:, xsens.XSENS_SEGMENTS.index(s), 1]
    assert (up("Head") > up("Pelvis")).all() and (up("Pelvis") > up("RightFoot")).all()
    np.testing.assert_array_equal(up("Head"), raw["Head_z"].to_numpy())        # new Y = XSENS Z


def test_emokine_csv_errors(tmp_path):
    head = ",".join(["frame_idx", "ms"] + [f"{s}_{a}" for s in xsens.XSENS_SEGMENTS for a in "xyz"])
    row = lambda i, v="0.1": ",".join([str(i), str(1000 + 4 * i)] + [v] * 69)
    f = tmp_path / "position.csv"
    f.write_text(head.replace("LeftToe_z", "LeftToe_w") + "\n" + row(0) + "\n" + row(1) + "\n")
    with pytest.raises(XsensError, match=r"line 1: missing columns \['LeftToe_z'\]"):
        xsens.read_xsens_csv(f)
    f.write_text("\n".join([head, row(0), row(1), row(2, "abc"), row(3)]) + "\n")
    with pytest.raises(XsensError, match=r"position.csv, line 4: column 'Pelvis_x' is not a finite number: 'abc'"):
        xsens.read_xsens_csv(f)
    f.write_text("\n".join([head, row(0), row(1, "nan")]) + "\n")
    with pytest.raises(XsensError, match="line 3"):
        xsens.read_xsens_csv(f)
    f.write_text("\n".join([head, row(0), row(1)]) + "\n")
    assert xsens.read_xsens_csv(f).fps == 250


@pytest.mark.skipif(not EMOKINE_CSV.is_file(), reason="no EMOKINE fixture")
def test_mvnx_reader_matches_csv(tmp_path):
    m = xsens.read_xsens_csv(EMOKINE_CSV)
    n = 50
    segs = "".join(f'<segment label="{s}" id="{i}"><points/></segment>' for i, s in enumerate(m.segments, 1))
    frames = "".join(f'<frame index="{k}" ms="{int(m.ms[k])}" type="normal"><orientation>1 0 0 0</orientation>'
                     f'<position>{" ".join(repr(float(v)) for v in m.positions[k].ravel())}</position></frame>' for k in range(n))
    f = tmp_path / "MVNX_seq1_angry.mvnx"
    f.write_text('<?xml version="1.0"?><mvnx xmlns="http://www.xsens.com/mvn/mvnx" version="4">'
                 '<subject label="x" frameRate="240" segmentCount="23" configuration="FullBody">'
                 f'<segments>{segs}</segments><frames segmentCount="23">'
                 '<frame index="-3" type="identity"><position>1 2 3</position></frame>'
                 f'{frames}</frames></subject></mvnx>')
    r = xsens.read_mvnx(f)
    assert r.fps == 240 and r.positions.shape == (n, 23, 3)
    np.testing.assert_array_equal(r.positions, m.positions[:n])
    f.write_text(f.read_text()[:-300])
    with pytest.raises(XsensError, match="MVNX_seq1_angry.mvnx, line 1: not valid XML"):
        xsens.read_mvnx(f)


def test_write_mvnx_round_trip_and_read_xsens(tmp_path):
    m = xsens.XsensMotion(list(xsens.XSENS_SEGMENTS), np.random.default_rng(1).normal(size=(12, 23, 3)), 60.0, "x")
    f = xsens.write_mvnx(m, tmp_path / "take.mvnx")
    r = xsens.read_xsens(f)                                  # by the extension
    assert r.fps == 60 and r.positions.shape == (12, 23, 3) and np.allclose(r.positions, m.positions, atol=1e-6)
    assert issubclass(XsensError, ValueError)

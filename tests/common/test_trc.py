"""OpenSim .trc marker files: round trip, units, OpenSim reads them, errors."""

from __future__ import annotations

import numpy as np
import pytest

from builder.trc import MarkerTrajectories, read_trc, write_trc


def _markers() -> MarkerTrajectories:
    rng = np.random.default_rng(0)
    return MarkerTrajectories(times=np.arange(5) / 50.0, names=["a", "b_r", "c_l"], data=rng.normal(0, 1, (5, 3, 3)))


@pytest.mark.parametrize("units", ["m", "mm"])
def test_round_trip_in_metres(tmp_path, units):
    markers = _markers()
    write_trc(tmp_path / "x.trc", markers, units=units)
    back = read_trc(tmp_path / "x.trc")
    assert back.names == markers.names
    np.testing.assert_allclose(back.times, markers.times, atol=1e-6)
    np.testing.assert_allclose(back.data, markers.data, atol=2e-6 if units == "m" else 2e-9)
    assert back.rate == pytest.approx(50.0)


def test_opensim_reads_what_we_write(tmp_path):
    pytest.importorskip("opensim")
    from builder.biosim.opensim_model import opensim

    osim = opensim()
    markers = _markers()
    write_trc(tmp_path / "x.trc", markers, units="mm")
    table = osim.TimeSeriesTableVec3(str(tmp_path / "x.trc"))
    assert list(table.getColumnLabels()) == markers.names
    assert table.getTableMetaDataAsString("Units") == "mm"
    row = table.getRowAtIndex(3)
    np.testing.assert_allclose([row[1].get(i) for i in range(3)], markers.data[3, 1] * 1000, atol=1e-3)


def test_bad_files_name_the_file(tmp_path):
    (tmp_path / "junk.trc").write_text("hello\n")
    with pytest.raises(ValueError, match="junk.trc"):
        read_trc(tmp_path / "junk.trc")
    write_trc(tmp_path / "cut.trc", _markers())
    text = (tmp_path / "cut.trc").read_text().splitlines()
    (tmp_path / "cut.trc").write_text("\n".join(text[:-2]) + "\n")
    with pytest.raises(ValueError, match="cut.trc.*truncated"):
        read_trc(tmp_path / "cut.trc")
    with pytest.raises(ValueError, match="units"):
        write_trc(tmp_path / "u.trc", _markers(), units="furlong")

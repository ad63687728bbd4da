"""The UCF-101-24 tool script on the real annotations and the 9 real videos."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from vidal.data import read_vidal


def test_ucf101_24_tool_checks_and_exports_the_videos_on_disk(
    shared_data, tmp_path, capsys, load_tool
):
    ucf = load_tool("ucf101_24.py")
    root = shared_data / "ucf101-24"
    args = ucf.get_args_parser().parse_args(
        [
            str(root / "pyannot.pkl"),
            "--split-file",
            str(root / "testlist01.txt"),
            "--videos",
            str(root / "videos"),
            "--check",
            "--only-present",
            "--out",
            str(tmp_path / "u.json"),
            "--json",
        ]
    )
    assert ucf.main(args) == 0
    assert '"videos_on_disk": 9' in capsys.readouterr().out
    ds = read_vidal(tmp_path / "u.json")
    assert len(ds) == 9 and ds.num_classes == 24
    assert sorted(ds.splits) == ["test", "testlist01", "train"] and len(ds.splits["test"]) == 9
    assert all(Path(v.path).is_absolute() and Path(v.path).exists() for v in ds)


def test_jhmdb21_tool_parses(load_tool):
    assert (
        load_tool("jhmdb21.py").get_args_parser().parse_args(["x.pkl", "--split", "2"]).split == 2
    )


@pytest.mark.parametrize("script", ["jhmdb21.py", "synthia_al.py"])
def test_tools_report_bad_input_in_one_line(tmp_path, script):
    missing = tmp_path / "missing"
    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, str(repo / "tools" / script), str(missing)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(repo)},
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
    assert str(missing) in done.stderr

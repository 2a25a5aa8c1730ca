"""benchmarks/gpu_suite.py, tried on a machine without a GPU: its CPU rows run, GPU rows skip."""

import importlib.util
import json
from pathlib import Path

import pytest
import torch

SUITE = Path(__file__).resolve().parent.parent / "benchmarks" / "gpu_suite.py"


def load_suite():
    spec = importlib.util.spec_from_file_location("gpu_suite", SUITE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(torch.cuda.is_available(), reason="the dry run is for machines without CUDA")
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.slow
def test_dry_run_skips_the_gpu_rows_and_writes_its_report(tmp_path):
    suite = load_suite()
    assert suite.main([str(tmp_path), "--quick", "--budget", "30",
                       "--sections", "decode", "accuracy"]) == 0
    report = json.loads((tmp_path / "gpu_suite.json").read_text())
    assert report["environment"]["cuda"] is False
    decode = {row["case"]: row for row in report["sections"]["decode"]["rows"]}
    for row in decode.values():
        if "cpu" in row:  # the flights rows need the benchmarks extra
            assert row["cuda"] == "skipped: no CUDA device"
            assert row["cpu"]["certified"] == 1.0
    assert "cpu" in decode["d=1000"] and "cpu" in decode["d=47236"]
    accuracy = report["sections"]["accuracy"]
    assert accuracy.get("device") == "cpu" or accuracy["status"] == "skipped: out of time"
    assert "[decode] ran" in (tmp_path / "gpu_suite.txt").read_text()
    # The thresholds section alone (its share of a short budget is under the 5 s floor).
    assert suite.main([str(tmp_path / "thresholds"), "--quick", "--budget", "20",
                       "--sections", "thresholds"]) == 0
    thresholds = json.loads((tmp_path / "thresholds" / "gpu_suite.json").read_text())
    thresholds = thresholds["sections"]["thresholds"]
    assert thresholds["status"] == "ran"
    cpu_rows = [row for row in thresholds["rows"] if row["device"] == "cpu"]
    assert {row["thresholds"] for row in cpu_rows} == {"exact HELU", "HELU_sigma"}
    assert all(row["same_gradients"] and row["masks_us"] > 0 for row in cpu_rows)
    assert {"device": "cuda", "status": "skipped: no CUDA device"} in thresholds["rows"]

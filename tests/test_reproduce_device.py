"""``--device`` of ``python -m skunroll [reproduce PAPER]``: checked, handed on, recorded."""

import json

import numpy as np
import pytest
import torch

from skunroll.__main__ import main
from skunroll.reproduce import REPRODUCTIONS, device_name
from skunroll.reproduce import deep_l0 as reproduce_deep_l0
from skunroll.reproduce import l1ae as reproduce_l1ae
from skunroll.reproduce import relu_ae as reproduce_relu_ae
from skunroll.reproduce import sketch as reproduce_sketch
from skunroll.reproduce import xml as reproduce_xml

AUTO = "cuda" if torch.cuda.is_available() else "cpu"


class Built(Exception):
    """Raised by a stand-in estimator class once it has recorded its arguments."""


def recording(seen):
    def build(*args, **kwargs):
        seen.append(kwargs.get("device", "<none>"))
        raise Built

    return build


def test_device_names():
    assert device_name("cpu") == "cpu" and device_name("auto") == AUTO
    for bad in ("nope", "meta", "cuda:x", "xpu"):
        with pytest.raises(ValueError, match="is not one of auto, cpu, cuda, mps or cuda:N"):
            device_name(bad)
    with pytest.raises(ValueError, match="CUDA"):
        device_name(f"cuda:{torch.cuda.device_count()}")


@pytest.mark.parametrize("device", ["nope", "cuda:99", "meta"])
@pytest.mark.parametrize("command", [["reproduce", "relu-ae", "--quick"], ["-m", "10"]],
                         ids=["reproduce", "main job"])
def test_an_unusable_device_is_an_error_before_anything_runs(command, device, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--device", device])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"error: argument --device: device='{device}'" in err
    assert "is not one of" in err or "CUDA" in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_a_missing_gpu_is_named(capsys):
    with pytest.raises(SystemExit):
        main(["reproduce", "relu-ae", "--quick", "--device", "cuda"])
    assert "device='cuda' was requested but CUDA is not available" in capsys.readouterr().err


def test_the_run_record_says_which_device_was_used(tmp_path):
    # The default, auto, is checked by test_cli's record test.
    assert main(["reproduce", "relu-ae", "--quick", "--device", "cpu", "--out",
                 str(tmp_path)]) == 0
    run = json.loads((tmp_path / "relu_ae.run.json").read_text())
    assert run["arguments"]["device"] == "cpu"
    assert run["device"] == {"requested": "cpu", "used": "cpu"}


@pytest.mark.gpu
def test_the_run_record_names_the_gpu(tmp_path):
    assert main(["reproduce", "relu-ae", "--quick", "--device", "cuda", "--out",
                 str(tmp_path)]) == 0
    run = json.loads((tmp_path / "relu_ae.run.json").read_text())
    assert run["device"]["used"] == "cuda"
    assert run["device"]["name"] == torch.cuda.get_device_name()


def _captured_run(monkeypatch, module, names):
    seen = {}

    def fake(name):
        def capture(*args, **kwargs):
            seen[name] = kwargs.get("device")
            return []
        return capture

    for name in names:
        monkeypatch.setattr(module, name, fake(name))
    return seen


@pytest.mark.parametrize("paper, module, names", [
    ("l1ae", reproduce_l1ae, ["run"]),
    ("deep-l0", reproduce_deep_l0, ["run", "table4"]),
    ("relu-ae", reproduce_relu_ae, ["gradient", "landscape"]),
    ("sketch", reproduce_sketch, ["run"]),
    ("xml", reproduce_xml, ["run"]),
])
def test_each_reproduction_hands_the_device_on(paper, module, names, monkeypatch):
    seen = _captured_run(monkeypatch, module, names)
    for name in ("summary", "table4_summary"):
        if hasattr(module, name):
            monkeypatch.setattr(module, name, lambda *args: "")
    if paper == "xml":
        split = (np.zeros((2, 1)),) * 4
        monkeypatch.setattr(module, "data_sets", lambda names, quick: [("d", split, [4])])
    main(["reproduce", paper, "--quick", "--device", "cpu"])
    assert seen == dict.fromkeys(names, "cpu")


def test_every_paper_is_covered():
    covered = {"l1ae", "deep-l0", "relu-ae", "sketch", "xml"}
    assert covered == set(REPRODUCTIONS)


def test_l1ae_builds_every_estimator_on_the_device():
    structure = {"block_size": 10, "n_blocks": 1}
    methods = reproduce_l1ae._methods(20, structure, 0, True, "synthetic1", device="cpu")
    estimators = [e for e in methods.values() if not isinstance(e, tuple)]
    with_device = [e for e in estimators if "device" in e.get_params()]
    # Model-based CoSaMP (twice) runs in NumPy and has no device; every other one gets it.
    assert len(estimators) - len(with_device) == 2
    assert len(with_device) == 7 and {e.device for e in with_device} == {"cpu"}
    rcv1 = reproduce_l1ae._methods(200, structure, 0, False, "rcv1-scale", device="cpu")
    assert {e.device for e in rcv1.values()} == {"cpu"}


def test_xml_builds_every_encoder_on_the_device():
    devices = []
    for _, _, make in reproduce_xml.methods([10], 50, lp_max_m=100, device="cpu"):
        model = make()
        encoder = getattr(model, "encoder", None)
        if encoder is not None and "device" in encoder.get_params():
            devices.append(encoder.device)
    # Learned and Gaussian encoders, each with the lasso, LP and linear decoders.
    assert devices == ["cpu"] * 6


def test_sketch_builds_its_estimators_on_the_device(monkeypatch):
    seen = []
    monkeypatch.setattr(reproduce_sketch, "LearnedSketchLowRank", recording(seen))
    with pytest.raises(Built):
        reproduce_sketch.run(["synthetic"], [(10, 20)], quick=True, n_seeds=1, device="cpu")
    assert seen == ["cpu"]


def test_deep_l0_builds_its_encoders_and_classifiers_on_the_device(monkeypatch):
    seen = []
    rng = np.random.RandomState(0)
    monkeypatch.setattr(reproduce_deep_l0, "_learn_dictionary",
                        lambda X, p, max_iter, seed, *args: rng.randn(p, X.shape[1]))
    monkeypatch.setattr(reproduce_deep_l0, "paper_regime_dictionary",
                        lambda D, X, **kwargs: (D, 0.5))
    monkeypatch.setattr(reproduce_deep_l0, "DeepL0Encoder", recording(seen))
    classifier_settings = {}

    def classifier(*args, **kwargs):
        classifier_settings.update(kwargs)
        return recording(seen)(*args, **kwargs)

    # table4 imports it when it runs.
    monkeypatch.setattr("skunroll.sparse_coding.DeepL0Classifier", classifier)
    with pytest.raises(Built):
        reproduce_deep_l0.run([8], quick=True, device="cpu")
    monkeypatch.setattr(reproduce_deep_l0, "MLPClassifier", _NoMLP)
    with pytest.raises(Built):
        reproduce_deep_l0.table4([8], quick=True, device="cpu")
    assert seen == ["cpu", "cpu"]
    # Table 4 keeps the paper's head and the held-out stop, whatever the defaults.
    assert classifier_settings["split_signs"] is False
    assert classifier_settings["early_stopping"] is True


class _NoMLP:
    """Stands in for the MLP baseline, which has no device (and takes seconds to fit)."""

    def __init__(self, **kwargs):
        pass

    def fit(self, X, y):
        return self

    def score(self, X, y):
        return 0.0

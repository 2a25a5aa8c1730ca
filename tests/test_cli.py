import pytest

from skunroll.__main__ import main


@pytest.mark.filterwarnings("ignore::skunroll.exceptions.DecodingWarning")
def test_main_prints_the_recovery_table(capsys):
    assert main(["-m", "20", "--n-samples", "600", "--n-test", "20", "--max-epochs", "2",
                 "--device", "cpu"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("skunroll ") and "synthetic1" in out[0]
    row = out[-1].split()
    assert row[0] == "20" and row[1].endswith("%") and row[3].endswith("%")


def test_main_rejects_unknown_dataset():
    with pytest.raises(SystemExit):
        main(["--dataset", "nope"])

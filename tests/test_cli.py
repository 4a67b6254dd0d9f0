import pytest

from pinet_tf.cli import main


def test_summary_prints_official_count(capsys):
    assert main(["summary", "--config", "official"]) == 0
    out = capsys.readouterr().out
    assert "20,407,934" in out and "10,778,737" in out and "9,629,197" in out
    assert "3,975,424" in out and "3,928,384" in out


def test_unknown_verb_exits_with_usage():
    with pytest.raises(SystemExit) as e:
        main(["no-such-verb"])
    assert e.value.code == 2

"""`pinet-tf train` argument errors: clear messages, exit status 2, nothing trained."""

import os

from pinet_tf.cli import main


def test_official_schedule_takes_one_step_count(tmp_path, capsys):
    code = main(["train", "--config", "tiny", "--out", str(tmp_path / "r"),
                 "--schedule", "official", "--steps", "1,2,3"])
    assert code == 2
    assert "total joint steps" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "r")


def test_perceptual_loss_needs_vgg_weights(tmp_path, tiny_records, capsys):
    code = main(["train", "--config", "tiny", "--data", tiny_records,
                 "--out", str(tmp_path / "r"), "--steps", "1,1,1"])
    assert code == 2
    assert "--vgg-weights" in capsys.readouterr().err


def test_resume_needs_a_checkpoint_and_a_run_is_not_overwritten(tmp_path, capsys):
    import tensorflow as tf

    code = main(["train", "--config", "tiny", "--out", str(tmp_path / "empty"), "--resume",
                 "--steps", "1,1,1", "--perceptual-weight", "0"])
    assert code == 2 and "no checkpoint" in capsys.readouterr().err
    run = tmp_path / "run"
    tf.train.Checkpoint(step=tf.Variable(3)).save(str(run / "checkpoints" / "ckpt"))
    code = main(["train", "--config", "tiny", "--out", str(run), "--steps", "1,1,1",
                 "--perceptual-weight", "0"])
    assert code == 2 and "--resume" in capsys.readouterr().err
    assert sorted(os.listdir(run)) == ["checkpoints"]


def test_the_log_is_a_progress_bar_on_a_terminal_and_one_line_per_interval_in_a_file():
    import io

    from pinet_tf.training.cli import log_verbosity

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    assert log_verbosity(None, Terminal()) == 1           # Keras's progress bar
    assert log_verbosity(None, io.StringIO()) == 2        # redirected: one line per interval
    assert log_verbosity(0, Terminal()) == 0 and log_verbosity(1, io.StringIO()) == 1

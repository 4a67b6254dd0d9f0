"""Session fixtures of the data package: a tiny synthetic set (64x44) and its pair TFRecords.

`tiny_synthetic_data`: directory in the authors' layout (100 identities x 3 poses, each identity
in its own studio; 96 train identities -> 576 train pairs, 4 test identities -> 24 test pairs),
seed 0. Many identities make the held-out proof of learning meaningful: with 40 the tiny run
memorised its training people (train-split L1 0.11, held-out 0.15, measured 2026-11-25); four
test identities because one identity's six pairs made the held-out ratio swing from 0.65x to
0.72x of copy-the-source between two draws. Generation at 64x44 takes about a second.
`tiny_records`: that set converted by `make-tfrecords` (2 shards per split), matching
`ModelConfig.tiny()`'s 64x44. Made once per session; treat both as read-only.
"""

import os

import pytest

TINY_SIZE = (64, 44)
TINY_IDENTITIES = 100
TINY_POSES = 3
TINY_TEST_IDENTITIES = 4
TINY_TEST_FRACTION = TINY_TEST_IDENTITIES / TINY_IDENTITIES
_PAIRS_PER_IDENTITY = TINY_POSES * (TINY_POSES - 1)  # ordered pairs of different poses
TINY_TRAIN_PAIRS = (TINY_IDENTITIES - TINY_TEST_IDENTITIES) * _PAIRS_PER_IDENTITY  # 576
TINY_TEST_PAIRS = TINY_TEST_IDENTITIES * _PAIRS_PER_IDENTITY  # 24


@pytest.fixture(scope="session")
def tiny_synthetic_data(tmp_path_factory):
    from pinet_tf.datasets import synthetic

    out = str(tmp_path_factory.mktemp("tiny_synthetic") / "data")
    synthetic.write_dataset(out, TINY_IDENTITIES, TINY_POSES, TINY_SIZE, seed=0,
                            test_fraction=TINY_TEST_FRACTION)
    return out


@pytest.fixture(scope="session")
def tiny_records(tiny_synthetic_data, tmp_path_factory):
    from pinet_tf.datasets import tfrecords

    out = str(tmp_path_factory.mktemp("tiny_records") / "records")
    tfrecords.convert(tiny_synthetic_data, out, shards=2)
    assert os.path.isfile(os.path.join(out, tfrecords.MANIFEST))
    return out

"""Session fixtures of the data package: a tiny synthetic set (64x44) and its pair TFRecords.

`tiny_synthetic_data`: directory in the authors' layout (40 identities x 3 poses, each identity
over its own backdrop; 39 train identities -> 234 train pairs, 1 test identity -> 6 test pairs),
seed 0. Many identities make the held-out proof of learning meaningful (8 identities gave 7
backdrops to memorise); the test split stays one identity so tests that run every test pair
stay fast. Generation at 64x44 takes well under a second.
`tiny_records`: that set converted by `make-tfrecords` (2 shards per split), matching
`ModelConfig.tiny()`'s 64x44. Made once per session; treat both as read-only.
"""

import os

import pytest

TINY_SIZE = (64, 44)
TINY_IDENTITIES = 40
TINY_POSES = 3
TINY_TEST_FRACTION = 1 / 40  # one test identity
TINY_TRAIN_PAIRS = 39 * 3 * 2
TINY_TEST_PAIRS = 1 * 3 * 2


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

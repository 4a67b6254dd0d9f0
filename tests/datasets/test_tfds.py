"""TFDS builders, checked with tfds.testing on dummy data made by the synthetic generator (offline)."""

import atexit
import shutil
import tempfile

import pytest

tfds = pytest.importorskip("tensorflow_datasets")
pytest.importorskip("dill")  # tfds.testing needs it (setup.py extra "dev")

from pinet_tf.datasets import synthetic  # noqa: E402
from pinet_tf.datasets.tfds import PinetDeepfashionPairs, PinetSyntheticPeople  # noqa: E402

# Dummy "manual download": 3 identities x 2 poses at 64x44 in the authors' layout
# (2 train identities -> 4 pairs, 1 test identity -> 2 pairs).
_DUMMY = tempfile.mkdtemp(prefix="pinet_tfds_dummy_")
atexit.register(shutil.rmtree, _DUMMY, True)
synthetic.write_dataset(_DUMMY, 3, 2, (64, 44), seed=7)


class DeepfashionPairsTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = PinetDeepfashionPairs
    EXAMPLE_DIR = _DUMMY
    SPLITS = {"train": 4, "test": 2}
    MOCK_OUT_FORBIDDEN_OS_FUNCTIONS = False  # the shared reader uses os / open / PIL
    SKIP_CHECKSUMS = True


class SyntheticPeopleTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = PinetSyntheticPeople
    BUILDER_CONFIG_NAMES_TO_TEST = ["64x44"]
    EXAMPLE_DIR = _DUMMY  # unused: nothing is downloaded
    SPLITS = {"train": 18, "test": 6}  # 3 train identities x 3*2 pairs, 1 test identity
    SKIP_CHECKSUMS = True


def test_deepfashion_builder_refuses_an_empty_manual_dir(tmp_path):
    builder = PinetDeepfashionPairs(data_dir=str(tmp_path / "tfds"))
    empty = tmp_path / "manual"
    empty.mkdir()
    with pytest.raises(Exception, match="(?i)manual|not found"):
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(manual_dir=str(empty)))

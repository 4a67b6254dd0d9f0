"""The serving core: one error mapping (gRPC code and HTTP status), limits, and the validation
rules read from the export's input table."""

import grpc
import numpy as np
import pytest

from pinet_tf.export.signatures import DEFAULT_SIGNATURE, signature_inputs
from pinet_tf.serving import core
from pinet_tf.serving.validation import check_values, decode_json_inputs, max_values


def test_every_status_maps_to_grpc_and_http():
    for status in core.Status:
        assert status.grpc_code() is getattr(grpc.StatusCode, status.name)
        assert 400 <= status.http < 600
    assert core.Status.INVALID_ARGUMENT.http == 400 and core.Status.NOT_FOUND.http == 404
    error = core.RequestError(core.Status.INVALID_ARGUMENT, "x", http=411)
    assert (error.http, error.status.grpc_code()) == (411, grpc.StatusCode.INVALID_ARGUMENT)
    assert core.DEFAULT_SIGNATURE == DEFAULT_SIGNATURE == "serving_default"


@pytest.mark.parametrize("field", ["max_batch_size", "max_message_bytes"])
def test_limits_refuse_nonsense(field):
    with pytest.raises(ValueError, match=f"{field} must be >= 1, got 0"):
        core.Limits(**{field: 0})


def _specs(signature="serving_default", h=4, w=3):
    import dataclasses
    return {n: dataclasses.replace(s, shape=s.example_shape((h, w)))
            for n, s in signature_inputs(signature).items()}


def test_rules_come_from_the_table_not_from_names():
    specs = _specs("texture_transfer")
    check_values(specs["regions"], np.ones((1, 12), np.uint8))
    with pytest.raises(core.RequestError, match="'regions' has value 3 at index \\[0, 5\\]; "
                                                "regions must be 0 or 1"):
        check_values(specs["regions"], np.eye(1, 12, 5, dtype=np.uint8) * 3)
    assert signature_inputs("no_such_signature") == {}
    assert max_values({"serving_default": _specs()}, 2) == 2 * (4 * 3 * 3 + 4 * 3 + 36 + 36)


def test_json_inputs_shape_checked_before_conversion():
    specs = _specs()
    good = {"source_image": np.zeros((1, 4, 3, 3), int).tolist(),
            "source_parsing": np.zeros((1, 4, 3), int).tolist(),
            "source_keypoints": np.zeros((1, 18, 2)).tolist(),
            "target_keypoints": np.full((1, 18, 2), -1.0).tolist()}
    arrays = decode_json_inputs(good, specs, "serving_default", 4)
    assert arrays["source_image"].dtype == np.uint8
    assert arrays["target_keypoints"].dtype == np.float32
    with pytest.raises(core.RequestError, match="batch size 5 exceeds this server's limit 4"):
        decode_json_inputs({k: v * 5 for k, v in good.items()}, specs, "serving_default", 4)
    with pytest.raises(core.RequestError, match="'source_image' has shape \\[1,4,3\\]"):
        decode_json_inputs(dict(good, source_image=good["source_parsing"]), specs,
                           "serving_default", 4)

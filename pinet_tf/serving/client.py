"""A TF-Serving gRPC client for pinet-tf exports, on `PredictionServiceStub`.

Works against `pinet-tf serve` and against `tensorflow_model_server` serving the same export.
"""

from __future__ import annotations

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import (get_model_metadata_pb2, get_model_status_pb2, model_pb2,
                                     model_service_pb2_grpc, predict_pb2,
                                     prediction_service_pb2_grpc)

from pinet_tf.serving.core import DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_SIGNATURE


class PoseTransferClient:
    """`predict(**arrays)` -> {output: np.ndarray}; also metadata and status."""

    def __init__(self, server: str, model_name: str = "pinet", timeout: float = 30.0,
                 max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES):
        self.server, self.model_name, self.timeout = server, model_name, float(timeout)
        self.channel = grpc.insecure_channel(server, options=[
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes)])
        self.predictions = prediction_service_pb2_grpc.PredictionServiceStub(self.channel)
        self.models = model_service_pb2_grpc.ModelServiceStub(self.channel)

    def _spec(self, signature: str = "", version: int | None = None) -> model_pb2.ModelSpec:
        spec = model_pb2.ModelSpec(name=self.model_name, signature_name=signature)
        if version is not None:
            spec.version.value = int(version)
        return spec

    def predict_request(self, signature: str = DEFAULT_SIGNATURE, version: int | None = None,
                        **arrays) -> predict_pb2.PredictRequest:
        request = predict_pb2.PredictRequest(model_spec=self._spec(signature, version))
        for name, value in arrays.items():
            request.inputs[name].CopyFrom(tf.make_tensor_proto(np.asarray(value)))
        return request

    def predict(self, signature: str = DEFAULT_SIGNATURE, version: int | None = None,
                **arrays) -> dict:
        response = self.predictions.Predict(
            self.predict_request(signature, version, **arrays), timeout=self.timeout)
        return {k: tf.make_ndarray(v) for k, v in response.outputs.items()}

    def predict_response(self, request: predict_pb2.PredictRequest):
        return self.predictions.Predict(request, timeout=self.timeout)

    def metadata(self) -> dict:
        """Signature name -> {"inputs": {name: (dtype, shape)}, "outputs": {...}}, version."""
        request = get_model_metadata_pb2.GetModelMetadataRequest(
            model_spec=self._spec(), metadata_field=["signature_def"])
        response = self.predictions.GetModelMetadata(request, timeout=self.timeout)
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(signature_map)

        def tensors(infos):
            return {k: (tf.dtypes.as_dtype(v.dtype).name,
                        [int(d.size) if d.size >= 0 else None for d in v.tensor_shape.dim])
                    for k, v in infos.items()}
        return {"version": response.model_spec.version.value,
                "signatures": {k: {"inputs": tensors(v.inputs), "outputs": tensors(v.outputs)}
                               for k, v in signature_map.signature_def.items()}}

    def status(self, version: int | None = None):
        request = get_model_status_pb2.GetModelStatusRequest(
            model_spec=self._spec(version=version))
        return self.models.GetModelStatus(request, timeout=self.timeout)

    def close(self):
        self.channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

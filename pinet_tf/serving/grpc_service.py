"""The gRPC front end: tensorflow-serving-api's PredictionService and ModelService on the core.

Predict, GetModelMetadata (signature_def) and GetModelStatus, answered from a `ServingCore`;
a `RequestError` becomes the RPC's status (its `Status` name) and message, anything else is
INTERNAL (logged once, one line: a client cannot cause it).
"""

from __future__ import annotations

import logging

import grpc
import tensorflow as tf
from tensorflow_serving.apis import (get_model_metadata_pb2, get_model_status_pb2,
                                     model_service_pb2_grpc, predict_pb2,
                                     prediction_service_pb2_grpc)

from pinet_tf.serving.core import RequestError, ServingCore, invalid, model_status
from pinet_tf.serving.validation import decode_tensor_protos

log = logging.getLogger("pinet_tf.serving")


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, core: ServingCore):
        self.core = core

    def Predict(self, request, context):
        with _status(context):
            model = self.core.spec_model(request.model_spec)
            signature = model.signature(request.model_spec.signature_name)
            arrays = decode_tensor_protos(request.inputs, model.input_specs[signature],
                                          signature, self.core.max_batch_size)
            outputs = model.run(signature, arrays, list(request.output_filter))
            response = predict_pb2.PredictResponse(
                model_spec=self.core.model_spec(model, signature))
            for name, value in outputs.items():
                response.outputs[name].CopyFrom(tf.make_tensor_proto(value))
            return response
        return predict_pb2.PredictResponse()

    def GetModelMetadata(self, request, context):
        with _status(context):
            model = self.core.spec_model(request.model_spec)
            fields = list(request.metadata_field)
            if fields != ["signature_def"]:
                raise invalid(f"metadata_field must be ['signature_def'], got {fields}")
            signature_map = get_model_metadata_pb2.SignatureDefMap()
            for name, sig in model.signature_defs.items():
                signature_map.signature_def[name].CopyFrom(sig)
            response = get_model_metadata_pb2.GetModelMetadataResponse(
                model_spec=self.core.model_spec(model))
            response.metadata["signature_def"].Pack(signature_map)
            return response
        return get_model_metadata_pb2.GetModelMetadataResponse()


class ModelServicer(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, core: ServingCore):
        self.core = core

    def GetModelStatus(self, request, context):
        with _status(context):
            spec = request.model_spec
            return model_status(self.core, spec.name,
                                spec.version.value if spec.HasField("version") else None)
        return get_model_status_pb2.GetModelStatusResponse()


def add_services(server, core: ServingCore) -> None:
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        PredictionServicer(core), server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelServicer(core), server)


class _status:
    """Context manager: a RequestError becomes the RPC's status; anything else is INTERNAL."""

    def __init__(self, context):
        self.context = context

    def __enter__(self):
        return self

    def __exit__(self, kind, error, tb):
        if error is None:
            return False
        if isinstance(error, RequestError):
            self.context.set_code(error.status.grpc_code())
            self.context.set_details(error.message)
        else:
            log.error("request failed: %s: %s", type(error).__name__, error,
                      exc_info=log.isEnabledFor(logging.DEBUG))
            self.context.set_code(grpc.StatusCode.INTERNAL)
            self.context.set_details(f"{type(error).__name__}: {error}")
        return True  # the caller returns an empty response; the status carries the error

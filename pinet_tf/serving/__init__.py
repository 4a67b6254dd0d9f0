"""Serving: a TF-Serving-compatible gRPC (and REST) server for `pinet-tf export` folders, and a client.

    core.py          ServingCore, model_status, Limits, Status (one error -> gRPC and HTTP)
    validation.py    request checks from metadata first, rules from export.signatures
    models.py        LoadedModel, ModelManager (newest version, polled, retried on change)
    grpc_service.py  PredictionService / ModelService on the core
    rest.py          TF-Serving's REST API on the core
    server.py        ModelServer(BASE).start(): composes the above
    client.py        PoseTransferClient("host:8500"), on PredictionServiceStub (needs core only)
"""

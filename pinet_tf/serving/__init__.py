"""Serving: a TF-Serving-compatible gRPC (and REST) server for `pinet-tf export` folders, and a client.

    ModelServer(BASE).start()        # server.py: Predict, GetModelMetadata, GetModelStatus
    PoseTransferClient("host:8500")  # client.py, on PredictionServiceStub
"""

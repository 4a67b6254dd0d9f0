"""pinet-tf's benchmarks against the authors' PyTorch design, measured in the same run.

    run.py         the runner: plans the stages, runs each in its own process, writes results
    registry.py    the stages by name (`KINDS`: which function measures each kind)
    stages/        one module per measurement (peak, forward_*, train_*, tflite_stage, data)
    common.py      thread set-up, configs, inputs, timing, FLOP counts, results I/O
    surgery.py     random O(1) weights and BatchNorm folding for a built Keras generator
    profiling.py   per-op tables (tf.profiler, torch.profiler)
    analysis.py    ratios, FLOP rates, fractions of the measured peak, targets
    to_markdown.py results JSON -> Markdown (the docs' performance page renders the same)
    tflite.py, serving.py   standalone TFLite and gRPC serving measurements

Imports go one way: common <- surgery, profiling <- stages <- registry <- run; analysis and
to_markdown read results only.
"""

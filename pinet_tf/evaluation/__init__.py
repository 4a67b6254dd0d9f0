"""Evaluation of a trained generator on a test split: metrics, baselines and a stated protocol.

Why a package of its own after training: it consumes a trained model (a RUN_DIR or an exported
SavedModel), the test data and the metrics, so it sits downstream of all three in the data flow
(records -> tf.data -> model -> metrics -> report); `pinet_tf.metrics` stays a library that
training can also use in-graph, while this package owns files, baselines and reports.

    pinet-tf evaluate --run RUN_DIR | --saved-model DIR --data RECORDS --out report.json
    evaluate(...) -> report dict (also written as report.json + report.md + a best/worst grid)
"""

from pinet_tf.evaluation.evaluator import evaluate

__all__ = ["evaluate"]

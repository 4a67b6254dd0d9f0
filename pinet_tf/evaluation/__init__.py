"""Evaluation of a trained generator on a test split: metrics, baselines and a stated protocol.

Why a package of its own after training: it consumes a trained model (a RUN_DIR or an exported
SavedModel), the test data and the metrics, so it sits downstream of all three in the data flow
(records -> tf.data -> model -> metrics -> report); `pinet_tf.metrics` stays a library that
training can also use in-graph, while this package owns files, baselines and reports.

    pinet-tf evaluate --run RUN_DIR | --saved-model DIR --data RECORDS --out report.json
    evaluate(...) -> report dict (also written as report.json + report.md + a best/worst grid)

    pinet-tf score --protocol patn|gfla|pidm|cfld|pinet --generated DIR --real DIR --out r.json
    score(...) -> report dict (a peer's metric recipe, `pinet_tf.evaluation.protocols`)

Names are imported lazily, so `pinet-tf --help` (which imports `pinet_tf.evaluation.cli`) does
not load TensorFlow.
"""

from pinet_tf.utils.lazy import lazy_exports

_EXPORTS = {"evaluate": "pinet_tf.evaluation.evaluator", "score": "pinet_tf.evaluation.scoring"}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)

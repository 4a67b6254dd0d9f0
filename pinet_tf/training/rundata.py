"""What a run directory says about its own data and contents (used by `training.run`).

RUN_DIR/data.json records the records directory the run trains on (relative to RUN_DIR when it
lies inside, e.g. the default synthetic set, so a moved run still finds it): `train --resume`
without `--data` continues on it, and refuses a different `--data` unless `--data-changed`;
`evaluate --run` without `--data` scores on it.
"""

from __future__ import annotations

import os

from pinet_tf.utils.atomic import write_json
from pinet_tf.utils.readers import read_json

DATA_RECORD = "data.json"


def recorded_data(out) -> str | None:
    """The records directory RUN_DIR/data.json names (None when the run predates the record or
    has not started)."""
    path = os.path.join(out, DATA_RECORD)
    if not os.path.isfile(path):
        return None
    record = read_json(path, "run's data record")
    if not isinstance(record, dict) or not isinstance(record.get("records"), str) \
            or not record["records"]:
        raise ValueError(f"{path}: expected {{\"records\": \"<records directory>\"}}; the file is "
                         f"damaged (pass --data DIR --data-changed to record it again)")
    return os.path.join(out, record["records"])  # an absolute path stays as it is


def record_data(out, records) -> None:
    """Write RUN_DIR/data.json (only when it changes)."""
    root, path = os.path.realpath(out), os.path.realpath(records)
    value = (os.path.relpath(path, root) if os.path.commonpath([root, path]) == root
             else os.path.abspath(records))
    current = recorded_data(out)
    if current is None or os.path.realpath(current) != path:
        write_json(os.path.join(out, DATA_RECORD), {"records": value})


def check_data(out, data, resume, data_changed=False):
    """`--data` against the run's record: a resumed run keeps its own data unless
    `data_changed`. Returns the records directory to check (None: a synthetic set is made)."""
    recorded = recorded_data(out) if resume else None
    if data is None:
        if resume and recorded is None and not os.path.isdir(os.path.join(out, "data")):
            # A run from before data.json that trained on given records: resuming it on a fresh
            # synthetic set would silently change its data.
            raise ValueError(f"--resume: {out} has no {DATA_RECORD} (a run from an older "
                             f"version) and no synthetic set of its own under "
                             f"{os.path.join(out, 'data')}; pass --data RECORDS (the records it "
                             f"trained on)")
        if recorded is not None and not os.path.isdir(recorded):
            raise FileNotFoundError(f"--resume: {os.path.join(out, DATA_RECORD)} says the run "
                                    f"trained on {recorded}, which is missing; pass --data DIR "
                                    f"--data-changed to continue on other records")
        return recorded
    if recorded is not None and not data_changed and \
            os.path.realpath(recorded) != os.path.realpath(data):
        raise ValueError(f"--resume: the run trained on {recorded} "
                         f"({os.path.join(out, DATA_RECORD)}), not --data {data}; pass "
                         f"--data-changed to continue on other data, or omit --data")
    return data


def check_new_run_folder(out, entries) -> None:
    """A new run goes into a new or empty folder, or one holding only a run's own `entries`
    (e.g. one that failed before its first checkpoint): a folder with anything else is refused
    before anything is written."""
    if not os.path.isdir(out):
        return
    other = sorted(set(os.listdir(out)) - set(entries) - {DATA_RECORD})
    if other:
        raise ValueError(f"--out {out}: holds files that are not a training run's "
                         f"({', '.join(other[:3])}{', ...' if len(other) > 3 else ''}); train "
                         f"writes into a new or empty folder (or --resume its own run)")

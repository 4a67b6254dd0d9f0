"""One module per measurement; `benchmarks/registry.py` names them (`KINDS`) and the stages.

Each stage function takes the child's parameters (`config`, `size`, `threads`, `repeats`,
`quick`, the stage's own such as `batch`, and `profile_dir` with `--profile`) and returns a
JSON-able dict. A timed stage returns `median_s` (of its timed call) and `gflop` (the FLOP of that
call, `benchmarks.common`'s count); the runner adds `achieved_gflops` and `peak_fraction` from the
peak measured in the same run. The child process has its threads set before the call.
"""

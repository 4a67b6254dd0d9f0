"""The pretrained networks of the evaluation (LPIPS, Inception-v3) and the streaming metrics of
one method.

A network whose weights are nowhere (and cannot be downloaded) makes its metrics skipped, with
the reason in the report; a weights file the user named explicitly must exist (an error, never
a skip).
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Inception Score splits (as the original IS code).
IS_SPLITS = 10


@dataclass
class Networks:
    lpips: object = None  # pinet_tf.metrics.lpips.LPIPS or None
    inception: object = None  # callable images -> {"pool", "probs"?} or None
    skipped: dict = field(default_factory=dict)  # metric -> reason
    files: list = field(default_factory=list)  # (role, path) of every weights file used


def short_reason(error) -> str:
    """One short line from a WeightsNotFoundError ("<what>: <file> not found; looked in ...")
    for the console and the report; the full search path is in the error a user gets when
    they name the file explicitly."""
    text = " ".join(str(error).split())
    head = text.split(" not found")[0].split(": ")[-1]
    why = "downloads off" if "downloads are off" in text else "download failed"
    return f"{head} not found ({why}; pass --weights-dir)"


def check_explicit_files(lpips_heads=None, lpips_backbone=None, inception_weights=None) -> None:
    """Weights files named on the command line must exist: checked before any work."""
    from pinet_tf.utils.weights import check_explicit

    for flag, path in (("--lpips-heads", lpips_heads), ("--lpips-backbone", lpips_backbone),
                       ("--inception-weights", inception_weights)):
        if path:
            check_explicit(path, flag)


def setup_networks(n_pairs, lpips_net="alex", lpips_heads=None, lpips_backbone=None,
                   inception_weights=None, inception=None, allow_download=None) -> Networks:
    """Build the networks whose weights are found (or downloaded); the others' metrics go to
    `skipped` with the reason. `inception`: a ready network (tests, notebooks)."""
    from pinet_tf.metrics.inception import TOP_FILE, InceptionNetwork
    from pinet_tf.metrics.lpips import LPIPS
    from pinet_tf.utils import weights as wlib

    nets = Networks()
    try:
        nets.lpips = LPIPS(lpips_net, heads=lpips_heads, backbone=lpips_backbone,
                           allow_download=allow_download)
        nets.files += nets.lpips.weight_files
    except wlib.WeightsNotFoundError as e:
        nets.skipped["lpips"] = short_reason(e)
    if n_pairs < 2:
        nets.skipped["fid"] = f"FID needs at least 2 pairs, {n_pairs} evaluated"
    if n_pairs < IS_SPLITS:
        nets.skipped["is"] = (f"IS needs at least {IS_SPLITS} pairs ({IS_SPLITS} splits), "
                              f"{n_pairs} evaluated")
    no_classifier = f"IS needs the Inception-v3 classifier weights {TOP_FILE}"
    if inception is not None:
        if inception.weights_path:
            nets.files.append(("Inception network", inception.weights_path))
        if not inception.include_top:
            nets.skipped.setdefault("is", f"{no_classifier}; the given network has none")
    elif not ("fid" in nets.skipped and "is" in nets.skipped):
        try:
            inception = InceptionNetwork(inception_weights, allow_download=allow_download)
            role = "Inception-v3 (FID pool3" + (", IS classifier)" if inception.include_top
                                                else ")")
            nets.files.append((role, inception.weights_path))
            if not inception.include_top:
                nets.skipped.setdefault("is", f"{no_classifier}; {inception.weights_path} has "
                                              f"no classifier")
        except wlib.WeightsNotFoundError as e:
            nets.skipped.setdefault("fid", short_reason(e))
            nets.skipped.setdefault("is", short_reason(e))
    if not ("fid" in nets.skipped and "is" in nets.skipped):
        nets.inception = inception  # else nothing needs its features
    return nets


def method_metrics(nets: Networks, feature_dim=None, num_classes=None) -> dict:
    """name -> streaming metric for one method (report order), on uint8 images."""
    from pinet_tf.metrics import FID, L1, PSNR, SSIM, InceptionScore, LPIPSMetric

    metrics = {"l1": L1(255), "ssim": SSIM(255), "psnr": PSNR(255)}
    if nets.lpips is not None:
        metrics["lpips"] = LPIPSMetric(nets.lpips)
    if nets.inception is not None and "fid" not in nets.skipped:
        metrics["fid"] = FID(network=nets.inception, dim=feature_dim)
    if nets.inception is not None and "is" not in nets.skipped and num_classes:
        metrics["is"] = InceptionScore(network=nets.inception, splits=IS_SPLITS,
                                       num_classes=num_classes)
    return metrics


def results(metrics: dict) -> dict:
    """Report values of `method_metrics`' metrics (IS adds its std as "is_std")."""
    out = {}
    for name, m in metrics.items():
        out[name] = float(m.result())
        if name == "is":
            out["is_std"] = float(m.result_std())
    return out

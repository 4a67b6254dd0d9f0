


def exit_unless_torch(name: str, spec) -> None:
    """Run as `python -m tests.reference.TOOL` without torch: one line naming the extra, exit 1.

    Call before `import torch` with the module's `__name__` and `__spec__`; imported as a module
    (by the tests) it does nothing, so a missing torch is still an ImportError there.
    """
    import sys

    from pinet_tf.utils.extras import install_command, is_installed

    if name == "__main__" and not is_installed("torch"):
        sys.exit(f"python -m {spec.name} needs the torch extra: {install_command('torch')}")


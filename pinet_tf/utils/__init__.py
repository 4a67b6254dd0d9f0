"""Helpers with no model knowledge, usable by every package below `config`.

- `atomic`: write a file or a folder so that a reader sees either the old or the complete new one.
- `torchfile`: read PyTorch `.pth` state dicts without torch (a restricted unpickler).
- `drawing`: picture grids, labels and legends for results pictures.
"""

"""Export: versioned SavedModels with compact-input signatures, TFLite conversion, torch import.

`savedmodel.export_saved_model` writes BASE/<version>/ (what TF-Serving and `pinet-tf serve`
serve); `tflite.convert` turns one of those into a .tflite file.
"""

"""Running a trained PINet on users' own photos: readers for the files people have (OpenPose /
COCO keypoint JSON, PATN CSV rows, parsing PNGs), fitting photos of any size into the model's
frame and back, one predictor interface over Keras weights and SavedModels, and the
`pinet-tf transfer` / `pinet-tf texture` verbs."""

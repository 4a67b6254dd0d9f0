"""Transfer and texture in the photo's frame, with stand-in predictors (no TensorFlow): the
mapping to the model's frame and back, and Eq. 11's compositing."""

import numpy as np
import pytest

from pinet_tf.inference import pipeline
from pinet_tf.inference.frame import Fit
from tests.inference.people import C, make_person


class EchoPredictor:
    """Returns the source image and parsing: a transfer that should map back to the photo."""

    image_size = (64, 44)

    def __init__(self):
        self.calls = []

    def transfer(self, source_image, source_parsing, source_keypoints, target_keypoints):
        self.calls.append((source_image, source_parsing, source_keypoints, target_keypoints))
        return source_image.copy(), source_parsing.copy()

    def texture(self, source_image, source_parsing, source_keypoints, condition_image,
                condition_parsing, regions):
        self.calls.append(regions)
        out = np.where(np.isin(source_parsing, np.flatnonzero(regions[0]))[..., None],
                       condition_image, source_image)
        return out.astype(np.uint8)


@pytest.mark.parametrize("size", [(40, 30), (32, 22), (50, 20), (25, 24)])
def test_transfer_maps_the_result_back_to_the_photo(size):
    image, parsing, kp = make_person(*size, seed=1)
    source = pipeline.Person(image, kp, parsing, "src.png")
    pred = EchoPredictor()
    fit = Fit.make(*size, 64, 44, "pad")
    target = fit.keypoints(kp)
    result = pipeline.transfer(pred, source, target, fit)
    src_img, src_par, src_kp, tgt_kp = pred.calls[0]
    assert src_img.shape == (1, 64, 44, 3) and src_par.shape == (1, 64, 44)
    assert src_kp.shape == (1, 18, 2) and src_kp.dtype == np.float32
    # Upscaled into the model's frame and back: parsing exact, image close, keypoints exact.
    assert result.image.shape == image.shape and result.parsing.shape == parsing.shape
    np.testing.assert_array_equal(result.parsing, parsing)
    assert np.abs(result.image.astype(int) - image).mean() < 8
    present = (kp >= 0).all(axis=1)
    np.testing.assert_allclose(result.keypoints[present], kp[present], atol=1e-3)


def test_texture_composites_in_the_photo_frame_and_keeps_everything_else():
    image, parsing, kp = make_person(45, 31, seed=2)
    cond_image, cond_parsing, _ = make_person(70, 50, seed=3)
    source = pipeline.Person(image, kp, parsing, "src.png")
    condition = pipeline.Person(cond_image, None, cond_parsing, "cond.png")
    regions = pipeline.parse_regions("upper-clothes,pants")
    assert regions == [C["upper-clothes"], C["pants"]]
    out, model = pipeline.texture(EchoPredictor(), source, condition, regions)
    assert out.shape == image.shape and out.dtype == np.uint8
    mask = np.isin(parsing, regions)
    np.testing.assert_array_equal(out[~mask], image[~mask])   # exactly unchanged
    assert (out[mask] != image[mask]).any(axis=-1).mean() > 0.5
    assert model["region_mask"].shape == (64, 44)
    grid = pipeline.texture_grid(model)
    assert grid.dtype == np.uint8 and grid.shape[0] >= 256


def test_parse_regions_errors():
    assert pipeline.parse_regions("Upper_Clothes, hat") == [C["upper-clothes"], C["hat"]]
    with pytest.raises(ValueError, match="unknown region 'shirt'; choose from background"):
        pipeline.parse_regions("upper-clothes,shirt")
    with pytest.raises(ValueError, match="empty"):
        pipeline.parse_regions(" , ")


def test_texture_refuses_regions_the_source_does_not_have():
    image, parsing, kp = make_person(40, 30)
    source = pipeline.Person(image, kp, parsing, "src.png")
    with pytest.raises(ValueError, match="regions dress, skirt do not occur"):
        pipeline.texture(EchoPredictor(), source, source, [C["dress"], C["skirt"]])


def test_transfer_grid_has_every_panel():
    image, parsing, kp = make_person(64, 44)
    fit = Fit.make(64, 44, 64, 44)
    result = pipeline.transfer(EchoPredictor(), pipeline.Person(image, kp, parsing), kp, fit)
    grid = pipeline.transfer_grid(result)
    with_gt = pipeline.transfer_grid(result, ground_truth=image)
    # 64 px cells are zoomed x4 to 256: 5 panels + legend, then one more with ground truth.
    assert grid.shape[0] == 14 + 4 + 256 + 4
    assert with_gt.shape[1] == grid.shape[1] + 4 * 44 + 4
    np.testing.assert_array_equal(grid[18:18 + 256:4, 4:4 + 176:4], image)


def test_patn_row_for_an_uncropped_256x256_photo_is_shifted_into_it(tmp_path):
    kp = np.full((18, 2), -1.0, np.float32)
    kp[0], kp[1] = (30, 10), (60, 170)          # in the authors' 256x176 crop
    ys, xs = [int(v) for v in kp[:, 0]], [int(v) for v in kp[:, 1]]
    csv = tmp_path / "ann.csv"
    csv.write_text(f"name:keypoints_y:keypoints_x\na.jpg: {ys}: {xs}\n")
    full = pipeline.load_keypoints_for(f"{csv}#a.jpg", (256, 256, 3), "a.jpg")
    np.testing.assert_array_equal(full[:2], [(30, 50), (60, 210)])
    np.testing.assert_array_equal(full[2:], -1)
    cropped = pipeline.load_keypoints_for(f"{csv}#a.jpg", (256, 176, 3), "a.jpg")
    np.testing.assert_array_equal(cropped, kp)
    with pytest.raises(ValueError, match=r"lie outside the 128x88 image"):
        pipeline.load_keypoints_for(f"{csv}#a.jpg", (128, 88, 3), "a.jpg")


def test_transfer_many_batches_and_matches_one_by_one():
    jobs = []
    for i, size in enumerate([(40, 30), (80, 50), (64, 44)]):
        image, parsing, kp = make_person(*size, seed=10 + i)
        fit = Fit.make(*size, 64, 44, "crop" if i == 1 else "pad")
        jobs.append((pipeline.Person(image, kp, parsing, f"{i}.png"), fit.keypoints(kp), fit))
    pred = EchoPredictor()
    together = pipeline.transfer_many(pred, jobs)
    assert len(pred.calls) == 1 and pred.calls[0][0].shape == (3, 64, 44, 3)
    for job, result in zip(jobs, together):
        alone = pipeline.transfer(EchoPredictor(), *job)
        np.testing.assert_array_equal(result.image, alone.image)
        np.testing.assert_array_equal(result.parsing, alone.parsing)
        assert result.image.shape == job[0].image.shape

"""Tests for pinet_tf.utils.drawing (NumPy/PIL pictures shared by training and inference)."""

import os

import numpy as np
import pytest
from PIL import Image

from pinet_tf.utils import drawing
from pinet_tf.config import CLASS_NAMES, KEYPOINT_NAMES


def test_palette_has_one_distinct_colour_per_class():
    assert drawing.PARSING_PALETTE.shape == (len(CLASS_NAMES), 3)
    assert drawing.PARSING_PALETTE.dtype == np.uint8
    assert len({tuple(c) for c in drawing.PARSING_PALETTE}) == len(CLASS_NAMES)


def test_colorize_parsing_maps_each_label_to_its_colour():
    labels = np.arange(12, dtype=np.uint8).reshape(3, 4)
    rgb = drawing.colorize_parsing(labels)
    assert rgb.shape == (3, 4, 3) and rgb.dtype == np.uint8
    for y in range(3):
        for x in range(4):
            np.testing.assert_array_equal(rgb[y, x], drawing.PARSING_PALETTE[labels[y, x]])


def test_colorize_parsing_rejects_out_of_range_labels():
    with pytest.raises(ValueError, match="0..11"):
        drawing.colorize_parsing(np.full((2, 2), 12, np.uint8))
    with pytest.raises(ValueError, match=r"\[H,W\]"):
        drawing.colorize_parsing(np.zeros((2, 2, 1), np.uint8))


def test_parsing_legend_shows_every_class_colour_in_order():
    legend = drawing.parsing_legend(240)
    assert legend.shape[0] == 240 and legend.shape[2] == 3 and legend.dtype == np.uint8
    # The swatch of class i sits in the i-th twelfth of the height, near the left edge.
    row = 240 / 12
    for i, colour in enumerate(drawing.PARSING_PALETTE):
        band = legend[int(i * row):int((i + 1) * row), :16]
        assert (band == colour).all(axis=-1).any(), CLASS_NAMES[i]


def test_limbs_are_the_openpose_coco18_tree():
    limbs = drawing.COCO18_LIMBS
    assert len(limbs) == 17
    # A tree over the 18 points: 17 edges, all connected from the neck.
    reached, frontier = {1}, [1]
    while frontier:
        p = frontier.pop()
        for a, b in limbs:
            for u, v in ((a, b), (b, a)):
                if u == p and v not in reached:
                    reached.add(v)
                    frontier.append(v)
    assert reached == set(range(len(KEYPOINT_NAMES)))
    names = {tuple(sorted((KEYPOINT_NAMES[a], KEYPOINT_NAMES[b]))) for a, b in limbs}
    for pair in [("neck", "right_shoulder"), ("right_elbow", "right_wrist"),
                 ("left_hip", "neck"), ("left_knee", "left_ankle"), ("nose", "right_eye"),
                 ("left_ear", "left_eye")]:
        assert tuple(sorted(pair)) in names


def _keypoints():
    kp = np.full((18, 2), -1.0, np.float32)
    kp[1] = (10, 20)   # neck
    kp[2] = (10, 10)   # right shoulder
    kp[3] = (30, 10)   # right elbow
    return kp


def test_draw_skeleton_draws_points_and_limbs_only_where_present():
    img = drawing.draw_skeleton(_keypoints(), 48, 40)
    assert img.shape == (48, 40, 3) and img.dtype == np.uint8
    lit = img.any(axis=-1)
    assert lit[10, 20] and lit[10, 10] and lit[30, 10]
    assert lit[10, 15]      # on the neck-shoulder limb
    assert lit[20, 10]      # on the shoulder-elbow limb
    assert not lit[40:, :].any() and not lit[:, 30:].any()   # nothing where no point is
    nothing = drawing.draw_skeleton(np.full((18, 2), -1.0), 48, 40)
    assert not nothing.any()


def test_draw_skeleton_keeps_the_background_away_from_the_figure():
    bg = np.full((48, 40, 3), 77, np.uint8)
    img = drawing.draw_skeleton(_keypoints(), 48, 40, background=bg)
    np.testing.assert_array_equal(img[40:], bg[40:])
    assert (img[10, 20] != 77).any()
    np.testing.assert_array_equal(bg, 77)   # not drawn in place


def test_draw_skeleton_rejects_wrong_shapes():
    with pytest.raises(ValueError, match=r"\[18,2\]"):
        drawing.draw_skeleton(np.zeros((17, 2)), 8, 8)
    with pytest.raises(ValueError, match="background"):
        drawing.draw_skeleton(_keypoints(), 8, 8, background=np.zeros((8, 9, 3), np.uint8))


def test_image_grid_places_cells_with_padding():
    a = np.full((4, 3, 3), 10, np.uint8)
    b = np.full((2, 5, 3), 20, np.uint8)
    c = np.full((3, 3), 30, np.uint8)            # grey becomes RGB
    grid = drawing.image_grid([[a, b], [c]], pad=1)
    assert grid.shape == (1 + 4 + 1 + 3 + 1, 1 + 3 + 1 + 5 + 1, 3)
    np.testing.assert_array_equal(grid[1:5, 1:4], a)
    np.testing.assert_array_equal(grid[1:3, 5:10], b)
    assert (grid[3:5, 5:10] == 255).all()        # slot below the shorter cell is padding
    np.testing.assert_array_equal(grid[6:9, 1:4], 30)
    assert (grid[0] == 255).all() and (grid[:, 4] == 255).all()


def test_image_grid_rejects_bad_cells():
    with pytest.raises(ValueError, match="uint8"):
        drawing.image_grid([[np.zeros((2, 2, 3), np.float32)]])
    with pytest.raises(ValueError, match="at least one"):
        drawing.image_grid([])


def test_save_png_atomic_round_trips_and_leaves_no_temp(tmp_path):
    img = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    out = tmp_path / "sub" / "x.png"
    drawing.save_png_atomic(out, img)
    np.testing.assert_array_equal(np.asarray(Image.open(out)), img)
    assert os.listdir(out.parent) == ["x.png"]


def test_save_png_atomic_with_a_palette_keeps_the_labels_and_shows_the_colours(tmp_path):
    from pinet_tf.utils.readers import read_label_map

    labels = np.arange(12, dtype=np.uint8).repeat(2).reshape(4, 6)
    out = tmp_path / "parsing.png"
    drawing.save_png_atomic(out, labels, palette=drawing.PARSING_PALETTE)
    picture = Image.open(out)
    assert picture.mode == "P"
    np.testing.assert_array_equal(np.asarray(picture), labels)            # the labels
    np.testing.assert_array_equal(np.asarray(picture.convert("RGB")),     # what a viewer shows
                                  drawing.PARSING_PALETTE[labels])
    np.testing.assert_array_equal(read_label_map(str(out)), labels)       # our reader
    with pytest.raises(ValueError, match="below 12"):
        drawing.save_png_atomic(out, labels + 1, palette=drawing.PARSING_PALETTE)


def test_save_png_atomic_writes_nothing_on_bad_data(tmp_path):
    out = tmp_path / "x.png"
    with pytest.raises(ValueError, match="uint8"):
        drawing.save_png_atomic(out, np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError, match=r"\[H,W,3\]"):
        drawing.save_png_atomic(out, np.zeros((4, 4, 2), np.uint8))
    assert os.listdir(tmp_path) == []


def test_save_png_atomic_keeps_the_old_file_when_encoding_fails(tmp_path, monkeypatch):
    out = tmp_path / "x.png"
    old = np.zeros((3, 3, 3), np.uint8)
    drawing.save_png_atomic(out, old)

    def broken(self, fp, format=None, **kw):
        fp.write(b"\x89PNG half")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken)
    with pytest.raises(OSError, match="disk full"):
        drawing.save_png_atomic(out, np.ones((3, 3, 3), np.uint8))
    monkeypatch.undo()
    np.testing.assert_array_equal(np.asarray(Image.open(out)), old)
    assert os.listdir(tmp_path) == ["x.png"]


def test_image_grid_titles_add_a_strip_above_the_cells():
    a = np.zeros((4, 30, 3), np.uint8)
    plain = drawing.image_grid([[a, a]], pad=1)
    titled = drawing.image_grid([[a, a]], pad=1, titles=["src", "out"])
    assert titled.shape == (plain.shape[0] + 14, plain.shape[1], 3)
    np.testing.assert_array_equal(titled[14:], plain)
    assert (titled[:14] < 128).any()          # some dark text pixels


def test_image_grid_wraps_titles_to_narrow_columns_and_adds_a_legend():
    a = np.zeros((20, 44, 3), np.uint8)
    grid = drawing.image_grid([[a, a], [a, a]], pad=2, titles=["predicted parsing", "source"])
    plain = drawing.image_grid([[a, a], [a, a]], pad=2)
    assert grid.shape[0] == plain.shape[0] + 25      # two title lines: "predicted" / "parsing"
    strip = grid[:25]
    first, second = strip[:, 2:46], strip[:, 48:92]
    assert (first[14:] < 128).any() and not (second[14:] < 128).any()  # only column 1 wraps
    with_legend = drawing.image_grid([[a, a], [a, a]], pad=2, legend=True)
    legend = drawing.parsing_legend(12 * 12)
    assert with_legend.shape[1] == plain.shape[1] + legend.shape[1] + 2
    np.testing.assert_array_equal(with_legend[2:2 + legend.shape[0], -legend.shape[1] - 2:-2],
                                  legend)

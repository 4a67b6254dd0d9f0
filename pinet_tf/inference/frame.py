"""Fitting a photo of any size into the model's frame, and mapping results back.

Users' photos are rarely 256x176. `Fit` scales a photo to the model's size keeping its aspect
ratio, then pads ("pad", default: the whole photo is seen) or centre-crops ("crop": the person
fills the frame, the margins are cut). Image, parsing and keypoints go through the *same*
continuous mapping (pixel i covers [i, i+1), so a keypoint at pixel index x maps to
(x + 0.5) * scale + offset - 0.5), which makes the way back an exact inverse. Padding is the
photo's background colour (the median of its border); a crop reports the keypoints it cut off
(`cut_keypoints`, used by `pipeline`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

FIT_MODES = ("pad", "crop")


def background_colour(image: np.ndarray, ring: int = 4) -> np.ndarray:
    """The median colour of the photo's outer `ring` pixels (uint8 [3])."""
    img = np.asarray(image)
    r = max(1, min(ring, img.shape[0] // 2, img.shape[1] // 2))
    border = np.concatenate([img[:r].reshape(-1, 3), img[-r:].reshape(-1, 3),
                             img[:, :r].reshape(-1, 3), img[:, -r:].reshape(-1, 3)])
    return np.median(border, axis=0).round().astype(np.uint8)


@dataclass(frozen=True)
class Fit:
    """Maps between a photo's frame (height x width) and the model's frame."""

    height: int            # the photo
    width: int
    model_height: int
    model_width: int
    scaled_height: int     # the photo after scaling, before padding / cropping
    scaled_width: int
    offset_y: int          # where the scaled photo's top-left lands in the model frame
    offset_x: int          # (negative when cropping)

    @classmethod
    def make(cls, height: int, width: int, model_height: int, model_width: int,
             mode: str = "pad") -> "Fit":
        if mode not in FIT_MODES:
            raise ValueError(f"fit mode must be one of {FIT_MODES}, got {mode!r}")
        if height < 1 or width < 1:
            raise ValueError(f"image size must be positive, got {height}x{width}")
        pick = min if mode == "pad" else max
        scale = pick(model_height / height, model_width / width)
        sh = max(1, int(round(height * scale)))
        sw = max(1, int(round(width * scale)))
        return cls(height, width, model_height, model_width, sh, sw,
                   (model_height - sh) // 2, (model_width - sw) // 2)

    @property
    def scale_y(self) -> float:
        return self.scaled_height / self.height

    @property
    def scale_x(self) -> float:
        return self.scaled_width / self.width

    # -- photo -> model ------------------------------------------------------------------
    def _place(self, scaled: np.ndarray, pad_mode: str) -> np.ndarray:
        oy, ox = self.offset_y, self.offset_x
        if oy >= 0 and ox >= 0:  # pad (or exact fit)
            widths = [(oy, self.model_height - self.scaled_height - oy),
                      (ox, self.model_width - self.scaled_width - ox)]
            widths += [(0, 0)] * (scaled.ndim - 2)
            return np.pad(scaled, widths, mode=pad_mode)
        return scaled[-oy:-oy + self.model_height, -ox:-ox + self.model_width]

    def image(self, image: np.ndarray) -> np.ndarray:
        """uint8 [h,w,3] -> uint8 [H,W,3]; bicubic (antialiased) scaling; padding is the
        photo's background colour (`background_colour`), as the training photos' plain
        backgrounds are, not repeated edge pixels (which smear a person touching the edge)."""
        self._check(image, "image")
        scaled = np.asarray(Image.fromarray(image).resize(
            (self.scaled_width, self.scaled_height), Image.BICUBIC))
        if self.offset_y < 0 or self.offset_x < 0:
            return self._place(scaled, "constant")  # a crop: nothing is padded
        canvas = np.empty((self.model_height, self.model_width, 3), np.uint8)
        canvas[:] = background_colour(image)
        oy, ox = self.offset_y, self.offset_x
        canvas[oy:oy + self.scaled_height, ox:ox + self.scaled_width] = scaled
        return canvas

    def cut_keypoints(self, keypoints) -> list:
        """Indices of the present keypoints that this fit (a crop) leaves outside the frame."""
        kp = np.asarray(keypoints, np.float32)
        present = (kp >= 0).all(axis=-1)
        kept = (self.keypoints(kp) >= 0).all(axis=-1)
        return [int(i) for i in np.flatnonzero(present & ~kept)]

    def parsing(self, labels: np.ndarray) -> np.ndarray:
        """uint8 [h,w] -> uint8 [H,W]; nearest neighbour, padding is background (0)."""
        self._check(labels, "parsing")
        scaled = np.asarray(Image.fromarray(labels).resize(
            (self.scaled_width, self.scaled_height), Image.NEAREST))
        return self._place(scaled, "constant")

    def keypoints(self, keypoints: np.ndarray) -> np.ndarray:
        """(y, x) [18,2] in the photo -> the model frame; missing (-1) stays missing, and so
        does a point that a crop pushes outside the frame."""
        kp = np.asarray(keypoints, np.float32)
        present = (kp >= 0).all(axis=-1)
        out = np.empty_like(kp)
        out[:, 0] = (kp[:, 0] + 0.5) * self.scale_y + self.offset_y - 0.5
        out[:, 1] = (kp[:, 1] + 0.5) * self.scale_x + self.offset_x - 0.5
        # Pixel centres run from 0 to size - 1, pixels from -0.5 to size - 0.5: a point on the
        # photo's edge pixel may land up to half a pixel outside the centres; keep it there.
        limit = np.array([self.model_height, self.model_width], np.float32)
        inside = ((out >= -0.5) & (out <= limit - 0.5)).all(axis=-1)
        out = np.clip(out, 0.0, limit - 1.0)
        out[~(present & inside)] = -1.0
        return out

    # -- model -> photo ------------------------------------------------------------------
    def keypoints_back(self, keypoints: np.ndarray) -> np.ndarray:
        kp = np.asarray(keypoints, np.float32)
        present = (kp >= 0).all(axis=-1)
        out = np.empty_like(kp)
        out[:, 0] = (kp[:, 0] + 0.5 - self.offset_y) / self.scale_y - 0.5
        out[:, 1] = (kp[:, 1] + 0.5 - self.offset_x) / self.scale_x - 0.5
        out[~present] = -1.0
        return out

    def _unplace(self, model_frame: np.ndarray, scaled_background) -> np.ndarray:
        oy, ox = self.offset_y, self.offset_x
        if oy >= 0 and ox >= 0:
            return model_frame[oy:oy + self.scaled_height, ox:ox + self.scaled_width]
        # Crop: the model saw only the middle; the cut margins come from the photo itself.
        canvas = np.array(scaled_background, copy=True)
        canvas[-oy:-oy + self.model_height, -ox:-ox + self.model_width] = model_frame
        return canvas

    def image_back(self, image: np.ndarray, photo: np.ndarray | None = None) -> np.ndarray:
        """uint8 [H,W,3] in the model frame -> uint8 [h,w,3]. With "crop", the margins the model
        never saw are taken from `photo` (the original, required then)."""
        background = None
        if self.offset_y < 0 or self.offset_x < 0:
            if photo is None:
                raise ValueError("mapping a cropped result back needs the original photo")
            background = np.asarray(Image.fromarray(photo).resize(
                (self.scaled_width, self.scaled_height), Image.BICUBIC))
        scaled = self._unplace(np.asarray(image), background)
        return np.asarray(Image.fromarray(np.ascontiguousarray(scaled)).resize(
            (self.width, self.height), Image.BICUBIC))

    def parsing_back(self, labels: np.ndarray, photo_parsing: np.ndarray | None = None
                     ) -> np.ndarray:
        """uint8 [H,W] -> uint8 [h,w] (nearest). With "crop" the margins come from
        `photo_parsing`, or are background when it is not given."""
        background = None
        if self.offset_y < 0 or self.offset_x < 0:
            if photo_parsing is None:
                background = np.zeros((self.scaled_height, self.scaled_width), np.uint8)
            else:
                background = np.asarray(Image.fromarray(photo_parsing).resize(
                    (self.scaled_width, self.scaled_height), Image.NEAREST))
        scaled = self._unplace(np.asarray(labels), background)
        return np.asarray(Image.fromarray(np.ascontiguousarray(scaled)).resize(
            (self.width, self.height), Image.NEAREST))

    def _check(self, array, what):
        if tuple(array.shape[:2]) != (self.height, self.width):
            raise ValueError(f"{what} is {array.shape[0]}x{array.shape[1]}, this fit is for "
                             f"{self.height}x{self.width}")

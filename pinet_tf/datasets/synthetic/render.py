"""One image from an identity and a pose: the 2D skeleton, the body parts painted back to front,
and the parsing map and COCO-18 keypoints from the same geometry (so they are exact)."""

from __future__ import annotations

import numpy as np

from pinet_tf.config import CLASS_NAMES, KEYPOINT_NAMES
from pinet_tf.datasets.synthetic.canvas import Canvas
from pinet_tf.datasets.synthetic.people import Identity, Pose, identity_rng, pose_rng

C = {name: i for i, name in enumerate(CLASS_NAMES)}
K = {name: i for i, name in enumerate(KEYPOINT_NAMES)}


def _rot(vec, angle, side):
    """Rotate a (y, x) direction by `angle` towards image side `side` (+1 right, -1 left)."""
    c, s = np.cos(angle), np.sin(angle) * side
    return np.array([vec[0] * c - vec[1] * s, vec[1] * c + vec[0] * s], np.float32)


def render(identity: Identity, pose: Pose, image_height: int, image_width: int):
    """Draw one image. Returns (uint8 [H,W,3] image, uint8 [H,W] parsing, int [18,2] keypoints)."""
    h = pose.height
    bw = identity.build
    canvas = Canvas(identity.background, image_height, image_width)
    down = np.array([np.cos(pose.lean), np.sin(pose.lean)], np.float32)  # torso axis, (y, x)
    normal = np.array([-down[1], down[0]], np.float32)  # points image-right
    pelvis = np.array(pose.pelvis, np.float32)
    torso_len = 0.30 * h
    neck = pelvis - down * torso_len
    head_r = 0.068 * h * identity.head
    head = neck - down * (0.045 * h + head_r)
    # Person's right side is image-left in a front view and image-right in a back view.
    right_side = -pose.facing
    sides = {"right": right_side, "left": -right_side}
    sh_w, hip_w = 0.105 * h * bw, 0.052 * h * bw
    joints = {}
    fs = pose.foreshorten
    for k, (name, side) in enumerate(sides.items()):
        shoulder = neck + normal * side * sh_w
        up_a, lo_a = pose.arms[k]
        d1 = _rot(down, up_a, side)
        elbow = shoulder + d1 * 0.165 * h * fs[4 * k]
        d2 = _rot(d1, lo_a, side)
        wrist = elbow + d2 * 0.15 * h * fs[4 * k + 1]
        hip = pelvis + normal * side * hip_w
        th_a, sh_a = pose.legs[k]
        d3 = _rot(down, th_a * 0.5, side)
        knee = hip + d3 * 0.235 * h * identity.legs * fs[4 * k + 2]
        d4 = _rot(d3, sh_a, side)
        ankle = knee + d4 * 0.225 * h * identity.legs * fs[4 * k + 3]
        joints[name] = dict(shoulder=shoulder, elbow=elbow, wrist=wrist, hand_dir=d2, hip=hip,
                            knee=knee, ankle=ankle, shin_dir=d4, side=side)
    unit = h  # texture coordinates in person heights: the same print in every pose
    skin = identity.skin
    up, low = identity.upper, identity.lower_garment
    is_dress = identity.lower == "dress"
    torso_label = C["dress"] if is_dress else C["upper-clothes"]

    def hair_back():
        if identity.hairstyle == "long":
            canvas.capsule(head, neck + down * 0.09 * h, head_r * 0.95, head_r * 0.85, C["hair"],
                           identity.hair)

    def arm(name):
        j = joints[name]
        ra, rf = 0.034 * h * bw, 0.028 * h * bw
        canvas.capsule(j["shoulder"], j["elbow"], ra, rf, C["hands"], skin)
        canvas.capsule(j["elbow"], j["wrist"], rf, rf * 0.85, C["hands"], skin)
        canvas.disc(j["wrist"] + j["hand_dir"] * 0.02 * h, 0.03 * h, C["hands"], skin)
        if identity.sleeves != "none" and not is_dress:
            canvas.capsule(j["shoulder"], j["elbow"], ra * 1.2, rf * 1.15, torso_label, None,
                           up, unit, t_range=(0.0, 0.55 if identity.sleeves == "short" else 1.0))
            if identity.sleeves == "long":
                canvas.capsule(j["elbow"], j["wrist"], rf * 1.15, rf * 1.05, torso_label, None,
                               up, unit, (0.165 * h, 0.0))

    def leg(name):
        j = joints[name]
        rt, rs = 0.05 * h * bw, 0.038 * h * bw
        canvas.capsule(j["hip"], j["knee"], rt, rs, C["legs"], skin)
        canvas.capsule(j["knee"], j["ankle"], rs, rs * 0.8, C["legs"], skin)
        if identity.lower in ("pants", "shorts"):
            canvas.capsule(j["hip"], j["knee"], rt * 1.12, rs * 1.12, C["pants"], None, low, unit,
                           rounded=False, t_range=(0.0, 0.6 if identity.lower == "shorts" else 1.0))
            if identity.lower == "pants":
                canvas.capsule(j["knee"], j["ankle"], rs * 1.12, rs * 1.0, C["pants"], None, low,
                               unit, (0.235 * h, 0.0))
        toe = j["ankle"] + j["shin_dir"] * 0.03 * h
        foot = j["ankle"] + np.array([0.02 * h, 0.0], np.float32)
        canvas.capsule(foot, toe + np.array([0.035 * h, 0.0], np.float32), 0.03 * h, 0.03 * h,
                       C["shoes"], identity.shoes)

    # Back to front.
    if pose.facing > 0:
        hair_back()
    for name in ("right", "left"):
        if not pose.arm_in_front[0 if name == "right" else 1]:
            arm(name)
    for name in ("right", "left"):
        leg(name)
    canvas.capsule(neck - down * 0.06 * h, neck, 0.032 * h, 0.036 * h, C["neck"], skin)
    if identity.lower in ("skirt", "dress"):
        canvas.trapezoid(pelvis - down * 0.03 * h, down, 0.26 * h, hip_w * 2.0, hip_w * 3.0,
                         C["dress"] if is_dress else C["skirt"], low, unit)
    if identity.lower in ("pants", "shorts"):
        canvas.trapezoid(pelvis - down * 0.04 * h, down, 0.05 * h, hip_w * 1.95, hip_w * 2.0,
                         C["pants"], low, unit)
    canvas.trapezoid(neck, down, torso_len * 0.97, sh_w * 1.05, hip_w * 1.95, torso_label, up, unit)
    if pose.facing < 0:
        hair_back()
    # Head: face with a hairline in front views, all hair from behind (the face is hidden).
    turn = pose.head_turn * head_r
    if pose.facing > 0:
        canvas.disc(head, head_r, C["face"], skin)
        if identity.hairstyle != "bald":
            line = -0.35 * head_r
            canvas.disc(head, head_r * 1.06, C["hair"], identity.hair,
                        keep=lambda dy, dx: dy * down[0] + dx * down[1] < line)
        for side in (-1, 1):
            eye = head + normal * (side * 0.38 * head_r + turn) - down * 0.05 * head_r
            canvas.disc(eye, max(0.09 * head_r, 0.6), C["face"], (30, 25, 25))
    else:
        canvas.disc(head, head_r, C["face"], skin,
                    keep=lambda dy, dx: dy * down[0] + dx * down[1] > 0.75 * head_r)
        canvas.disc(head, head_r * (1.0 if identity.hairstyle == "bald" else 1.06),
                    C["hair"] if identity.hairstyle != "bald" else C["face"],
                    identity.hair if identity.hairstyle != "bald" else skin,
                    keep=lambda dy, dx: dy * down[0] + dx * down[1] <= 0.75 * head_r)
    if identity.hairstyle == "bun":
        canvas.disc(head - down * head_r * 1.0, head_r * 0.45, C["hair"], identity.hair)
    if identity.hat is not None:
        canvas.disc(head, head_r * 1.12, C["hat"], identity.hat,
                    keep=lambda dy, dx: dy * down[0] + dx * down[1] < -0.45 * head_r)
        canvas.capsule(head - down * 0.45 * head_r + normal * 1.35 * head_r,
                       head - down * 0.45 * head_r - normal * 1.35 * head_r,
                       0.1 * head_r, 0.1 * head_r, C["hat"], identity.hat * 0.8)
    for name in ("right", "left"):
        if pose.arm_in_front[0 if name == "right" else 1]:
            arm(name)

    # Keypoints (y, x), COCO-18.
    kp = np.full((len(KEYPOINT_NAMES), 2), -1.0, np.float32)
    for name, j in joints.items():
        for part in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle"):
            kp[K[f"{name}_{part}"]] = j[part]
    kp[K["neck"]] = neck
    if pose.facing > 0:  # the face is only visible from the front
        kp[K["nose"]] = head + normal * turn + down * 0.25 * head_r
        for name, j in joints.items():
            kp[K[f"{name}_eye"]] = head + normal * (j["side"] * 0.38 * head_r + turn) \
                - down * 0.05 * head_r
    for name, j in joints.items():
        kp[K[f"{name}_ear"]] = head + normal * j["side"] * 0.98 * head_r
    kp = np.round(kp).astype(np.int32)
    outside = (kp[:, 0] < 0) | (kp[:, 0] >= image_height) | (kp[:, 1] < 0) | \
        (kp[:, 1] >= image_width)
    kp[outside] = -1
    return canvas.image, canvas.parsing, kp


def sample(seed: int, identity: int, pose: int, image_height: int = 256, image_width: int = 176):
    """Image, parsing, keypoints and view ("front"/"back") of one (identity, pose); deterministic."""
    ident = Identity.sample(identity_rng(seed, identity))
    p = Pose.sample(pose_rng(seed, identity, pose), image_height, image_width)
    image, parsing, kp = render(ident, p, image_height, image_width)
    return image, parsing, kp, "front" if p.facing > 0 else "back"

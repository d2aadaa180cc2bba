"""A deterministic synthetic continuous sign language dataset in the PHOENIX14 layout.

Each gloss of a small vocabulary is a "sign": one or two coloured hand-like blobs that
follow a gloss-specific trajectory at a gloss-specific place of the signing space, with a
gloss-specific shape and colour. A sentence of 2 to 8 glosses, drawn from a random bigram
grammar, is signed by a cartoon signer (head, torso, resting hands) in front of a
signer-specific background; consecutive signs are joined by short co-articulation
transitions in which the hands move and change colour smoothly. Signers differ in
background colour and texture, body scale, position, speed, motion amplitude, lighting
and camera noise; the dev and test splits use signers never seen in training.

The output mirrors the PHOENIX-2014 release, so the same dataset reader serves both::

    <root>/
        gloss_vocab.json                     {"blank_id": 0, "glosses": [sorted]}
        synthetic_meta.json                  generation parameters and a summary
        phoenix-2014-multisigner/
            annotations/manual/{train,dev,test}.corpus.csv
            evaluation/phoenix2014-groundtruth-{dev,test}.stm
            features/fullFrame-210x260px/<split>/<id>/1/<stem>.avi_pid0_fn000000-0.png
        videos/<split>/<id>.mp4              only with ``write_videos=True``
        {train,dev,test}.txt                 ``videos/<split>/<id>.mp4|GLOSS GLOSS ...``

Every video draws its random numbers from its own generator seeded by
``(seed, split, index)``, so the bytes written depend only on the parameters, never on
the order of work or the number of worker processes.
"""
import inspect
import json
import math
import multiprocessing
import os
import os.path as osp
import shutil
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmengine.logging import print_log

PHOENIX_DIR = 'phoenix-2014-multisigner'
ANNOTATION_DIR = osp.join('annotations', 'manual')
EVALUATION_DIR = 'evaluation'
FRAME_DIR = osp.join('features', 'fullFrame-210x260px')
VIDEO_DIR = 'videos'
VOCAB_FILE = 'gloss_vocab.json'
META_FILE = 'synthetic_meta.json'
SPLITS = ('train', 'dev', 'test')
FORMAT_VERSION = 1

_SPLIT_CODES = {'train': 1, 'dev': 2, 'test': 3}
_PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 3]

# Weather-forecast glosses in the style of PHOENIX14; the first ``num_glosses`` are used.
GLOSS_NAMES = (
    'SONNE', 'REGEN', 'WOLKE', 'SCHNEE', 'WIND', 'NEBEL', 'GEWITTER', 'WARM',
    'KALT', 'NORD', 'SUED', 'WEST', 'OST', 'MORGEN', 'HEUTE', 'ABEND',
    'NACHT', 'TAG', 'TEMPERATUR', 'GRAD', 'FROST', 'STURM', 'HAGEL', 'TROCKEN',
    'MILD', 'FREUNDLICH', 'SCHAUER', 'KUEHL', 'HEISS', 'BERG', 'KUESTE', 'REGION',
    'AUCH', 'NICHT', 'VIEL', 'WENIG', 'STARK', 'SCHWACH', 'BLEIBEN', 'WECHSELHAFT',
    'DEUTSCHLAND', 'BAYERN', 'ALPEN', 'MEER', 'FLUSS', 'WOCHENENDE', 'MONTAG', 'DIENSTAG',
)

# Eight well separated, saturated hand colours (RGB), 45 degrees of hue apart.
HAND_COLOURS = (
    (235, 35, 35), (255, 150, 20), (245, 235, 40), (40, 205, 60),
    (40, 225, 235), (40, 80, 245), (150, 60, 235), (245, 45, 190),
)
# Places of the signing space (x, y) in image coordinates of an unscaled signer: three
# columns times three heights (chin, chest, belly).
PLACES = tuple((x, y) for y in (0.36, 0.53, 0.70) for x in (0.30, 0.50, 0.70))
# Half-distance between the hands of two-handed signs, per column of PLACES.
TWO_HAND_SPREAD = (0.2, 0.1, 0.27)
TRAJECTORIES = ('circle', 'horizontal', 'vertical', 'diagonal', 'antidiagonal', 'figure8',
                'tap', 'pulse')
SHAPES = ('disc', 'square', 'triangle', 'diamond', 'bar')
TEXTURES = ('flat', 'vgrad', 'hgrad', 'stripes', 'checker', 'blotches')
MAX_GLOSSES = len(GLOSS_NAMES)

_REST_LEFT = (0.40, 0.92)
_REST_RIGHT = (0.60, 0.92)
_HEAD = (0.50, 0.20)


@dataclass(frozen=True)
class SignDesign:
    """How one gloss is signed.

    Args:
        gloss (str): The gloss.
        colour (tuple): RGB colour of the hand(s).
        place (tuple): Centre ``(x, y)`` of the movement (of the dominant hand).
        trajectory (str): Movement, one of :data:`TRAJECTORIES`.
        shape (str): Hand shape, one of :data:`SHAPES`.
        two_handed (bool): Whether the second hand mirrors the first.
        spread (float): Half-distance between the hands of a two-handed sign.
        frames (int): Duration in frames at speed 1.
        spin (float): Rotation of the hand shape over the sign, in radians.
    """

    gloss: str
    colour: Tuple[int, int, int]
    place: Tuple[float, float]
    trajectory: str
    shape: str
    two_handed: bool
    spread: float
    frames: int
    spin: float


@dataclass(frozen=True)
class SignerStyle:
    """Appearance and manner of one synthetic signer.

    Args:
        name (str): Signer id, e.g. ``Signer03``.
        background (tuple): Mean RGB background colour.
        texture (str): Background pattern, one of :data:`TEXTURES`.
        texture_strength (float): Amplitude of the pattern in intensity levels.
        texture_freq (float): Spatial frequency of striped/checked patterns.
        texture_angle (float): Orientation of stripes, in radians.
        texture_seed (int): Seed of the blotch pattern.
        skin (tuple): RGB skin colour (head, resting hands).
        shirt (tuple): RGB shirt colour.
        scale (float): Body and movement scale around the image centre.
        offset (tuple): Position offset ``(dx, dy)`` in image units.
        speed (float): Frame-count multiplier (larger is slower signing).
        amplitude (float): Movement amplitude multiplier.
        hand_size (float): Hand size multiplier.
        transition (float): Mean number of co-articulation frames.
        gain (tuple): Per-channel lighting gain.
        noise (float): Standard deviation of the camera noise in intensity levels.
    """

    name: str
    background: Tuple[float, float, float]
    texture: str
    texture_strength: float
    texture_freq: float
    texture_angle: float
    texture_seed: int
    skin: Tuple[int, int, int]
    shirt: Tuple[int, int, int]
    scale: float
    offset: Tuple[float, float]
    speed: float
    amplitude: float
    hand_size: float
    transition: float
    gain: Tuple[float, float, float]
    noise: float


@dataclass(frozen=True)
class _Hand:
    x: float
    y: float
    colour: Tuple[float, float, float]
    shape: str
    size: float
    angle: float


def _hsv_to_rgb(h: float, s: float, v: float) -> Tuple[float, float, float]:
    """HSV in [0, 1] to RGB in [0, 255]."""
    i = int(h * 6.0) % 6
    f = h * 6.0 - math.floor(h * 6.0)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    r, g, b = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
    return (255.0 * r, 255.0 * g, 255.0 * b)


def _design_slot(slot: int) -> dict:
    """The appearance of design slot ``slot``.

    Slot ``8 q + r`` has colour ``r`` and place ``(2 r + q) % 9``, so no two of the first
    72 slots share both; the first eight (one-handed) use eight different places, and
    neighbouring hues are far apart. The next eight are two-handed.
    """
    q, r = divmod(slot, len(HAND_COLOURS))
    place_index = (2 * r + q) % len(PLACES)
    two_handed = q % 2 == 1
    place = PLACES[place_index]
    return dict(
        colour=HAND_COLOURS[r],
        place=(0.5, place[1]) if two_handed else place,
        trajectory=TRAJECTORIES[(3 * r + 5 * q) % len(TRAJECTORIES)],
        shape=SHAPES[(r + 2 * q) % len(SHAPES)],
        two_handed=two_handed,
        spread=TWO_HAND_SPREAD[place_index % 3],
        frames=6 + (5 * r + 3 * q) % 4,
        spin=(0.0, 0.8, -0.8)[(r + q) % 3],
    )


def _trajectory(kind: str, phase: float) -> Tuple[float, float, float]:
    """Offset ``(dx, dy)`` in units of the amplitude and a size factor at ``phase``."""
    a = 2.0 * math.pi * phase
    if kind == 'circle':
        return math.cos(a), math.sin(a), 1.0
    if kind == 'horizontal':
        return math.sin(a), 0.0, 1.0
    if kind == 'vertical':
        return 0.0, math.sin(a), 1.0
    if kind == 'diagonal':
        return 0.75 * math.sin(a), 0.75 * math.sin(a), 1.0
    if kind == 'antidiagonal':
        return 0.75 * math.sin(a), -0.75 * math.sin(a), 1.0
    if kind == 'figure8':
        return math.sin(a), 0.6 * math.sin(2.0 * a), 1.0
    if kind == 'tap':
        return 0.0, 1.2 * abs(math.sin(a)) - 0.6, 1.0
    if kind == 'pulse':
        return 0.0, 0.0, 1.0 + 0.35 * math.sin(2.0 * a)
    raise ValueError(f'unknown trajectory {kind!r}')


def _smoothstep(s: float) -> float:
    return s * s * (3.0 - 2.0 * s)


def _mix(a: Sequence[float], b: Sequence[float], s: float) -> Tuple[float, ...]:
    return tuple((1.0 - s) * x + s * y for x, y in zip(a, b))


class SyntheticSignLanguage:
    """The synthetic language: sign designs, a bigram grammar and signers.

    Everything is a pure function of the constructor arguments.

    Args:
        num_glosses (int): Vocabulary size, 2 to :data:`MAX_GLOSSES`.
        num_train_signers (int): Signers of the train split.
        num_dev_signers (int): Held-out signers of the dev split.
        num_test_signers (int): Held-out signers of the test split.
        min_glosses (int): Shortest sentence.
        max_glosses (int): Longest sentence.
        image_size (int): Height and width of the frames.
        seed (int): Random seed.
    """

    AMPLITUDE = 0.085
    HAND_RADIUS = 0.095
    REST_RADIUS = 0.06

    def __init__(self, num_glosses: int = 16, num_train_signers: int = 12,
                 num_dev_signers: int = 2, num_test_signers: int = 2, min_glosses: int = 2,
                 max_glosses: int = 8, image_size: int = 64, seed: int = 0) -> None:
        if not 2 <= num_glosses <= MAX_GLOSSES:
            raise ValueError(f'num_glosses must be in [2, {MAX_GLOSSES}], got {num_glosses}')
        if not 1 <= min_glosses <= max_glosses:
            raise ValueError(f'need 1 <= min_glosses <= max_glosses, got {min_glosses} and '
                             f'{max_glosses}')
        if min(num_train_signers, num_dev_signers, num_test_signers) < 1:
            raise ValueError('every split needs at least one signer')
        if image_size < 16:
            raise ValueError(f'image_size must be at least 16, got {image_size}')
        self.num_glosses = num_glosses
        self.min_glosses = min_glosses
        self.max_glosses = max_glosses
        self.image_size = image_size
        self.seed = seed
        self.glosses: List[str] = sorted(GLOSS_NAMES[:num_glosses])

        rng = np.random.default_rng([seed, 100])
        slots = rng.permutation(num_glosses)
        self.designs: Dict[str, SignDesign] = {
            g: SignDesign(gloss=g, **_design_slot(int(s))) for g, s in zip(self.glosses, slots)
        }

        # Bigram grammar: each gloss prefers a few successors; no immediate repetition.
        rng = np.random.default_rng([seed, 300])
        n = num_glosses
        weights = rng.gamma(0.35, size=(n + 1, n)) + 1e-6
        weights[np.arange(n), np.arange(n)] = 0.0
        weights /= weights.sum(axis=1, keepdims=True)
        uniform = np.ones((n + 1, n))
        uniform[np.arange(n), np.arange(n)] = 0.0
        uniform /= uniform.sum(axis=1, keepdims=True)
        self.transitions = 0.8 * weights + 0.2 * uniform  # row n: sentence start

        counts = (num_train_signers, num_dev_signers, num_test_signers)
        names = [f'Signer{k + 1:02d}' for k in range(sum(counts))]
        self.signers: Dict[str, List[str]] = {
            'train': names[:counts[0]],
            'dev': names[counts[0]:counts[0] + counts[1]],
            'test': names[counts[0] + counts[1]:],
        }
        # Background patterns cycle over the train signers; held-out signers reuse them,
        # so that no held-out signer shows a kind of background never seen in training.
        order = np.random.default_rng([seed, 150]).permutation(len(TEXTURES))
        seen = min(num_train_signers, len(TEXTURES))
        self.styles: Dict[str, SignerStyle] = {
            name: self._make_style(name, k, TEXTURES[order[k % seen]])
            for k, name in enumerate(names)}

    def _make_style(self, name: str, index: int, texture: str) -> SignerStyle:
        rng = np.random.default_rng([self.seed, 200, index])
        background = _hsv_to_rgb(rng.uniform(), rng.uniform(0.0, 0.3), rng.uniform(0.3, 0.72))
        skin = _hsv_to_rgb(rng.uniform(0.03, 0.09), rng.uniform(0.25, 0.55),
                           rng.uniform(0.45, 0.92))
        shirt = _hsv_to_rgb(rng.uniform(), rng.uniform(0.1, 0.6), rng.uniform(0.12, 0.35))
        speed = float(rng.uniform(0.8, 1.25))
        return SignerStyle(
            name=name,
            background=background,
            texture=texture,
            texture_strength=float(rng.uniform(6.0, 24.0)),
            texture_freq=float(rng.uniform(2.5, 6.0)),
            texture_angle=float(rng.uniform(0.0, math.pi)),
            texture_seed=int(rng.integers(2**31)),
            skin=tuple(int(round(c)) for c in skin),
            shirt=tuple(int(round(c)) for c in shirt),
            scale=float(rng.uniform(0.86, 1.12)),
            offset=(float(rng.uniform(-0.06, 0.06)), float(rng.uniform(-0.04, 0.05))),
            speed=speed,
            amplitude=float(rng.uniform(0.8, 1.2)),
            hand_size=float(rng.uniform(0.9, 1.1)),
            transition=float(0.8 + speed * rng.uniform(0.7, 1.3)),
            gain=tuple(float(g) for g in rng.uniform(0.9, 1.1, size=3)),
            noise=float(rng.uniform(1.5, 6.0)),
        )

    # ------------------------------------------------------------------ sentences
    def sample_sentence(self, rng: np.random.Generator) -> List[str]:
        """Draw a sentence from the bigram grammar.

        Args:
            rng (np.random.Generator): Source of randomness.

        Returns:
            list[str]: ``min_glosses`` to ``max_glosses`` glosses, no gloss twice in a row.
        """
        length = int(rng.integers(self.min_glosses, self.max_glosses + 1))
        state = self.num_glosses
        sentence = []
        for _ in range(length):
            state = int(rng.choice(self.num_glosses, p=self.transitions[state]))
            sentence.append(self.glosses[state])
        return sentence

    # ------------------------------------------------------------------ rendering
    def _sign_hands(self, design: SignDesign, style: SignerStyle, phase: float,
                    colour: Tuple[float, ...]) -> List[_Hand]:
        dx, dy, size = _trajectory(design.trajectory, phase)
        amp = self.AMPLITUDE * style.amplitude
        radius = self.HAND_RADIUS * style.hand_size * size
        angle = design.spin * phase
        if design.two_handed:
            x, y = design.place[0] + design.spread + amp * dx, design.place[1] + amp * dy
            return [_Hand(x, y, colour, design.shape, radius, angle),
                    _Hand(1.0 - x, y, colour, design.shape, radius, -angle)]
        right = _Hand(design.place[0] + amp * dx, design.place[1] + amp * dy, colour,
                      design.shape, radius, angle)
        return [right, self._rest_hand(style, _REST_LEFT)]

    def _rest_hand(self, style: SignerStyle, where: Tuple[float, float]) -> _Hand:
        return _Hand(where[0], where[1], tuple(float(c) for c in style.skin), 'disc',
                     self.REST_RADIUS * style.hand_size, 0.0)

    def _rest(self, style: SignerStyle) -> List[_Hand]:
        return [self._rest_hand(style, _REST_RIGHT), self._rest_hand(style, _REST_LEFT)]

    @staticmethod
    def _blend(a: List[_Hand], b: List[_Hand], s: float) -> List[_Hand]:
        """Co-articulation: move hand ``i`` of ``a`` towards hand ``i`` of ``b``."""
        w = _smoothstep(s)
        return [_Hand(ha.x + w * (hb.x - ha.x), ha.y + w * (hb.y - ha.y),
                      _mix(ha.colour, hb.colour, w), ha.shape if s < 0.5 else hb.shape,
                      ha.size + w * (hb.size - ha.size),
                      ha.angle + w * (hb.angle - ha.angle))
                for ha, hb in zip(a, b)]

    def timeline(self, glosses: Sequence[str], style: SignerStyle,
                 rng: np.random.Generator) -> Tuple[List[List[_Hand]], List[str]]:
        """Hand states and labels of every frame of a signed sentence.

        Args:
            glosses (Sequence[str]): The sentence.
            style (SignerStyle): The signer.
            rng (np.random.Generator): Source of randomness (durations, colour jitter).

        Returns:
            tuple: Per-frame hand lists and per-frame labels: a gloss while it is signed,
            ``''`` for rest and transition frames.
        """
        frames: List[List[_Hand]] = []
        labels: List[str] = []
        rest = self._rest(style)

        def transition(a: List[_Hand], b: List[_Hand]) -> None:
            n = max(1, int(round(style.transition + rng.uniform(-0.6, 0.6))))
            for k in range(n):
                frames.append(self._blend(a, b, (k + 1) / (n + 1)))
                labels.append('')

        for _ in range(int(rng.integers(1, 4))):
            frames.append(rest)
            labels.append('')
        previous = rest
        for gloss in glosses:
            design = self.designs[gloss]
            jitter = rng.uniform(-12.0, 12.0, size=3)
            colour = tuple(float(np.clip(c + j, 0, 255)) for c, j in zip(design.colour, jitter))
            n = int(np.clip(round(design.frames * style.speed + rng.normal(0.0, 0.6)), 4, 14))
            transition(previous, self._sign_hands(design, style, 0.0, colour))
            for t in range(n):
                frames.append(self._sign_hands(design, style, (t + 0.5) / n, colour))
                labels.append(gloss)
            previous = self._sign_hands(design, style, 1.0, colour)
        transition(previous, rest)
        for _ in range(int(rng.integers(1, 4))):
            frames.append(rest)
            labels.append('')
        return frames, labels

    def _background(self, style: SignerStyle, res: int, tint: np.ndarray) -> np.ndarray:
        grid = (np.arange(res, dtype=np.float64) + 0.5) / res
        yy, xx = np.meshgrid(grid, grid, indexing='ij')
        if style.texture == 'flat':
            pattern = np.zeros_like(xx)
        elif style.texture == 'vgrad':
            pattern = yy - 0.5
        elif style.texture == 'hgrad':
            pattern = xx - 0.5
        elif style.texture == 'stripes':
            u = xx * math.cos(style.texture_angle) + yy * math.sin(style.texture_angle)
            pattern = 0.5 * np.sin(2.0 * math.pi * style.texture_freq * u)
        elif style.texture == 'checker':
            f = style.texture_freq
            pattern = 0.5 * np.sign(np.sin(2 * math.pi * f * xx) * np.sin(2 * math.pi * f * yy))
        else:  # blotches
            coarse = np.random.default_rng(style.texture_seed).uniform(-0.5, 0.5, (5, 5))
            pattern = cv2.resize(coarse, (res, res), interpolation=cv2.INTER_CUBIC)
        colour = np.asarray(style.background) + tint
        bg = colour[None, None, :] + style.texture_strength * pattern[..., None]
        return np.clip(bg, 0, 255).astype(np.uint8)

    def _to_pixels(self, x: float, y: float, style: SignerStyle, shift: Tuple[float, float],
                   res: int) -> Tuple[float, float]:
        scale = style.scale
        px = 0.5 + (x - 0.5) * scale + style.offset[0] + shift[0]
        py = 0.5 + (y - 0.5) * scale + style.offset[1] + shift[1]
        return px * res, py * res

    @staticmethod
    def _draw_hand(img: np.ndarray, cx: float, cy: float, radius: float, hand: _Hand) -> None:
        fixed = 16.0  # cv2 drawing with shift=4: coordinates in 1/16 pixel
        colour = tuple(int(round(c)) for c in hand.colour)
        outline = tuple(int(round(0.35 * c)) for c in hand.colour)
        border = max(1.0, 0.18 * radius)
        for r, col in ((radius + border, outline), (radius, colour)):
            if hand.shape == 'disc':
                cv2.circle(img, (int(round(cx * fixed)), int(round(cy * fixed))),
                           int(round(r * fixed)), col, -1, cv2.LINE_AA, 4)
                continue
            if hand.shape == 'square':
                angles, radii = [0.25 * math.pi + k * 0.5 * math.pi for k in range(4)], [1.2] * 4
            elif hand.shape == 'diamond':
                angles, radii = [k * 0.5 * math.pi for k in range(4)], [1.3] * 4
            elif hand.shape == 'triangle':
                angles = [-0.5 * math.pi + k * 2.0 * math.pi / 3.0 for k in range(3)]
                radii = [1.45] * 3
            elif hand.shape == 'bar':
                angles = [2.0 * math.pi * k / 16 for k in range(16)]
                radii = [1.0 / math.hypot(math.cos(a) / 1.5, math.sin(a) / 0.6)
                         for a in angles]
            else:
                raise ValueError(f'unknown shape {hand.shape!r}')
            pts = np.array([[int(round((cx + r * k * math.cos(a + hand.angle)) * fixed)),
                             int(round((cy + r * k * math.sin(a + hand.angle)) * fixed))]
                            for a, k in zip(angles, radii)], dtype=np.int32)
            cv2.fillPoly(img, [pts], col, cv2.LINE_AA, 4)

    def render(self, glosses: Sequence[str], signer: str,
               rng: np.random.Generator) -> Tuple[np.ndarray, List[str]]:
        """Render a signed sentence.

        Args:
            glosses (Sequence[str]): The sentence; every gloss must be in :attr:`glosses`.
            signer (str): A signer id of :attr:`styles`.
            rng (np.random.Generator): Source of randomness.

        Returns:
            tuple: ``(frames, labels)``: RGB uint8 frames of shape ``(T, H, W, 3)`` and the
            per-frame labels of :meth:`timeline`.
        """
        unknown = [g for g in glosses if g not in self.designs]
        if unknown:
            raise KeyError(f'glosses {unknown} are not in the synthetic vocabulary')
        style = self.styles[signer]
        size = self.image_size
        supersample = max(1, min(4, math.ceil(128 / size)))
        res = size * supersample
        shift = (float(rng.uniform(-0.02, 0.02)), float(rng.uniform(-0.02, 0.02)))
        brightness = float(rng.uniform(-8.0, 8.0))
        tint = rng.uniform(-10.0, 10.0, size=3)
        hands_per_frame, labels = self.timeline(glosses, style, rng)

        base = self._background(style, res, tint)
        s = style.scale * res
        fixed = 16.0
        hx, hy = self._to_pixels(_HEAD[0], _HEAD[1], style, shift, res)
        tx, ty = self._to_pixels(0.5, 1.02, style, shift, res)
        cv2.ellipse(base, (int(round(tx * fixed)), int(round(ty * fixed))),
                    (int(round(0.34 * s * fixed)), int(round(0.5 * s * fixed))), 0.0, 0.0,
                    360.0, style.shirt, -1, cv2.LINE_AA, 4)
        cv2.ellipse(base, (int(round(hx * fixed)), int(round(hy * fixed))),
                    (int(round(0.095 * s * fixed)), int(round(0.12 * s * fixed))), 0.0, 0.0,
                    360.0, style.skin, -1, cv2.LINE_AA, 4)
        hair = tuple(int(0.3 * c) for c in style.shirt)
        cv2.ellipse(base, (int(round(hx * fixed)), int(round((hy - 0.04 * s) * fixed))),
                    (int(round(0.1 * s * fixed)), int(round(0.09 * s * fixed))), 0.0, 180.0,
                    360.0, hair, -1, cv2.LINE_AA, 4)

        frames = np.empty((len(hands_per_frame), size, size, 3), dtype=np.uint8)
        for t, hands in enumerate(hands_per_frame):
            canvas = base.copy()
            # The dominant hand comes first in the list and is drawn last, on top.
            for hand in reversed(hands):
                cx, cy = self._to_pixels(hand.x, hand.y, style, shift, res)
                self._draw_hand(canvas, cx, cy, hand.size * s, hand)
            if supersample > 1:
                canvas = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)
            frames[t] = canvas
        light = frames.astype(np.float32) * np.asarray(style.gain, np.float32) + brightness
        noise = rng.standard_normal(frames.shape, dtype=np.float32) * style.noise
        frames = np.clip(np.rint(light + noise), 0, 255).astype(np.uint8)
        return frames, labels


# ---------------------------------------------------------------------- dataset writing
def _video_id(split: str, index: int) -> str:
    return f'synth_{split}_{index:05d}_default-0'


def _frame_name(video_id: str, t: int) -> str:
    stem = video_id.rsplit('_default-', 1)[0]
    return f'{stem}.avi_pid0_fn{t:06d}-0.png'


def _plan_split(lang: SyntheticSignLanguage, split: str, count: int,
                seed: int) -> List[Dict[str, Any]]:
    """Sentences and signers of a split, one generator per video."""
    plans = []
    signers = lang.signers[split]
    for index in range(count):
        rng = np.random.default_rng([seed, _SPLIT_CODES[split], index, 0])
        plans.append(dict(split=split, index=index, id=_video_id(split, index),
                          signer=signers[int(rng.integers(len(signers)))],
                          glosses=lang.sample_sentence(rng)))
    if split == 'train':
        _cover_vocabulary(plans, lang.glosses)
    return plans


def _cover_vocabulary(plans: List[Dict[str, Any]], glosses: Sequence[str]) -> None:
    """Make every gloss occur in training by substituting it where it fits.

    A gloss is put in place of one that occurs more than once in the split, never next
    to itself; the first such place in sentence order is taken.
    """
    counts = {g: 0 for g in glosses}
    for plan in plans:
        for g in plan['glosses']:
            counts[g] += 1
    for gloss in [g for g in glosses if counts[g] == 0]:
        for sentence in (plan['glosses'] for plan in plans):
            spots = [pos for pos, old in enumerate(sentence)
                     if counts[old] > 1 and gloss not in sentence[max(0, pos - 1):pos + 2]]
            if spots:
                counts[sentence[spots[0]]] -= 1
                sentence[spots[0]] = gloss
                counts[gloss] += 1
                break
        else:
            raise ValueError(f'{len(plans)} training sentences cannot cover {len(glosses)} '
                             'glosses: raise num_train')


_WORKER_LANG: Optional[SyntheticSignLanguage] = None


def _render_and_write(job: Tuple[Dict[str, Any], str, int, bool, int]) -> int:
    plan, out_root, seed, write_videos, fps = job
    lang = _WORKER_LANG
    assert lang is not None
    rng = np.random.default_rng([seed, _SPLIT_CODES[plan['split']], plan['index'], 1])
    frames, _ = lang.render(plan['glosses'], plan['signer'], rng)
    folder = osp.join(out_root, PHOENIX_DIR, FRAME_DIR, plan['split'], plan['id'], '1')
    os.makedirs(folder)
    bgr = frames[..., ::-1]
    for t, frame in enumerate(bgr):
        path = osp.join(folder, _frame_name(plan['id'], t))
        if not cv2.imwrite(path, np.ascontiguousarray(frame), _PNG_PARAMS):
            raise OSError(f'could not write {path}')
    if write_videos:
        path = osp.join(out_root, VIDEO_DIR, plan['split'], plan['id'] + '.mp4')
        size = (frames.shape[2], frames.shape[1])
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), float(fps), size)
        if not writer.isOpened():
            raise OSError(f'could not open a video writer for {path}')
        for frame in bgr:
            writer.write(np.ascontiguousarray(frame))
        writer.release()
    return len(frames)


def _init_worker(lang: SyntheticSignLanguage) -> None:
    global _WORKER_LANG
    _WORKER_LANG = lang
    cv2.setNumThreads(1)


def _write_text(path: str, lines: Sequence[str]) -> None:
    with open(path, 'w', encoding='utf-8', newline='\n') as f:
        f.writelines(line + '\n' for line in lines)


def _generation_params(num_glosses: int, num_train: int, num_dev: int, num_test: int,
                       image_size: int, min_glosses: int, max_glosses: int,
                       num_train_signers: int, num_dev_signers: int, num_test_signers: int,
                       seed: int, write_videos: bool, fps: int) -> Dict[str, Any]:
    return dict(format_version=FORMAT_VERSION, num_glosses=int(num_glosses),
                num_train=int(num_train), num_dev=int(num_dev), num_test=int(num_test),
                image_size=int(image_size), min_glosses=int(min_glosses),
                max_glosses=int(max_glosses), num_train_signers=int(num_train_signers),
                num_dev_signers=int(num_dev_signers), num_test_signers=int(num_test_signers),
                seed=int(seed), write_videos=bool(write_videos), fps=int(fps))


def _read_meta(root: str) -> Optional[Dict[str, Any]]:
    try:
        with open(osp.join(root, META_FILE), encoding='utf-8') as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _remove_tree(path: str) -> None:
    """Remove ``path`` after moving it aside, so that it vanishes at once."""
    trash = f'{path}.removing-{os.getpid()}'
    os.rename(path, trash)
    shutil.rmtree(trash)


def generate_synthetic_dataset(root: str, num_glosses: int = 16, num_train: int = 400,
                               num_dev: int = 60, num_test: int = 60, image_size: int = 64,
                               min_glosses: int = 2, max_glosses: int = 8,
                               num_train_signers: int = 12, num_dev_signers: int = 2,
                               num_test_signers: int = 2, seed: int = 0,
                               write_videos: bool = False, fps: int = 25,
                               num_workers: int = 1) -> Dict[str, Any]:
    """Generate a synthetic CSLR dataset in the PHOENIX14 release layout.

    The data is written into a temporary sibling folder that is renamed to ``root`` only
    when complete, so an interrupted run never leaves a folder that looks finished. An
    existing ``root`` is replaced if it holds an earlier synthetic dataset (it has a
    ``synthetic_meta.json``) or is empty; any other existing folder is refused.

    Args:
        root (str): Output folder.
        num_glosses (int): Vocabulary size (2 to 48). Defaults to 16.
        num_train (int): Training sentences. Defaults to 400.
        num_dev (int): Dev sentences. Defaults to 60.
        num_test (int): Test sentences. Defaults to 60.
        image_size (int): Height and width of the square RGB frames. Defaults to 64.
        min_glosses (int): Shortest sentence. Defaults to 2.
        max_glosses (int): Longest sentence. Defaults to 8.
        num_train_signers (int): Signers of the train split. Defaults to 12.
        num_dev_signers (int): Held-out signers of the dev split. Defaults to 2.
        num_test_signers (int): Held-out signers of the test split (disjoint from the
            train and dev signers). Defaults to 2.
        seed (int): Random seed; equal parameters give byte-identical output.
            Defaults to 0.
        write_videos (bool): Also write mp4 videos (MPEG-4 part 2 via OpenCV) and the
            ``<split>.txt`` list files for the custom (video) reader. Defaults to False.
        fps (int): Frame rate of the mp4 videos. Defaults to 25.
        num_workers (int): Worker processes; the output does not depend on it.
            Defaults to 1.

    Returns:
        dict: A summary: ``root``, ``vocab_file``, ``params`` (as recorded in
        ``synthetic_meta.json``), ``glosses``, ``generated`` (True), ``seconds`` and
        ``splits``, which maps each split to ``num_videos``, ``num_frames``, ``min_frames``,
        ``max_frames`` and ``signers``.
    """
    params = _generation_params(num_glosses, num_train, num_dev, num_test, image_size,
                                min_glosses, max_glosses, num_train_signers,
                                num_dev_signers, num_test_signers, seed, write_videos, fps)
    counts = {'train': num_train, 'dev': num_dev, 'test': num_test}
    if min(counts.values()) < 1:
        raise ValueError(f'every split needs at least one sentence, got {counts}')
    root = osp.abspath(root)
    if osp.isdir(root) and os.listdir(root) and _read_meta(root) is None:
        raise FileExistsError(f'{root} exists and is not a synthetic dataset '
                              f'(no {META_FILE}); refusing to replace it')
    lang = SyntheticSignLanguage(num_glosses, num_train_signers, num_dev_signers,
                                 num_test_signers, min_glosses, max_glosses, image_size, seed)
    plans = {split: _plan_split(lang, split, counts[split], seed) for split in SPLITS}

    start = time.time()
    parent = osp.dirname(root)
    os.makedirs(parent, exist_ok=True)
    tmp = osp.join(parent, f'.{osp.basename(root)}.incomplete-{os.getpid()}')
    if osp.exists(tmp):
        shutil.rmtree(tmp)
    try:
        for split in SPLITS:
            os.makedirs(osp.join(tmp, PHOENIX_DIR, FRAME_DIR, split))
            if write_videos:
                os.makedirs(osp.join(tmp, VIDEO_DIR, split))
        os.makedirs(osp.join(tmp, PHOENIX_DIR, ANNOTATION_DIR))
        os.makedirs(osp.join(tmp, PHOENIX_DIR, EVALUATION_DIR))
        jobs = [(plan, tmp, seed, write_videos, fps) for split in SPLITS
                for plan in plans[split]]
        if num_workers > 1:
            ctx = multiprocessing.get_context(
                'fork' if 'fork' in multiprocessing.get_all_start_methods() else 'spawn')
            with ctx.Pool(num_workers, initializer=_init_worker, initargs=(lang,)) as pool:
                lengths = pool.map(_render_and_write, jobs, chunksize=8)
        else:
            global _WORKER_LANG
            previous, _WORKER_LANG = _WORKER_LANG, lang
            try:
                lengths = [_render_and_write(job) for job in jobs]
            finally:
                _WORKER_LANG = previous
        for job, length in zip(jobs, lengths):
            job[0]['num_frames'] = length

        summary: Dict[str, Any] = dict(params=params, glosses=lang.glosses, splits={})
        for split in SPLITS:
            rows = [f"{p['id']}|{p['id']}/1/*.png|{p['signer']}|{' '.join(p['glosses'])}"
                    for p in plans[split]]
            _write_text(osp.join(tmp, PHOENIX_DIR, ANNOTATION_DIR, f'{split}.corpus.csv'),
                        ['id|folder|signer|annotation'] + rows)
            if split != 'train':
                stm = [f"{p['id']} 1 {p['signer'].lower()} 0.0 1.79769e+308 "
                       f"{' '.join(p['glosses'])}" for p in plans[split]]
                _write_text(osp.join(tmp, PHOENIX_DIR, EVALUATION_DIR,
                                     f'phoenix2014-groundtruth-{split}.stm'), stm)
            if write_videos:
                _write_text(osp.join(tmp, f'{split}.txt'),
                            [f"{VIDEO_DIR}/{split}/{p['id']}.mp4|{' '.join(p['glosses'])}"
                             for p in plans[split]])
            lengths = [p['num_frames'] for p in plans[split]]
            summary['splits'][split] = dict(
                num_videos=len(lengths), num_frames=int(sum(lengths)),
                min_frames=int(min(lengths)), max_frames=int(max(lengths)),
                signers=sorted({p['signer'] for p in plans[split]}))
        with open(osp.join(tmp, VOCAB_FILE), 'w', encoding='utf-8') as f:
            json.dump({'blank_id': 0, 'glosses': lang.glosses}, f, indent=0)
            f.write('\n')
        # The meta file is written last: its presence marks a complete dataset.
        with open(osp.join(tmp, META_FILE), 'w', encoding='utf-8') as f:
            json.dump(dict(params=params, summary=summary), f, indent=1, sort_keys=True)
            f.write('\n')
        if osp.isdir(root):
            _remove_tree(root)
        try:
            os.rename(tmp, root)
        except OSError:
            # Another process finished the same dataset first: keep the one in place.
            meta = _read_meta(root)
            if meta is None or meta.get('params') != params:
                raise
            shutil.rmtree(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    summary.update(root=root, vocab_file=osp.join(root, VOCAB_FILE), generated=True,
                   seconds=round(time.time() - start, 2))
    return summary


def ensure_synthetic_dataset(root: str, **kwargs: Any) -> Dict[str, Any]:
    """Generate the synthetic dataset into ``root`` unless it is already there.

    The dataset in ``root`` is reused when its ``synthetic_meta.json`` records the same
    generation parameters; otherwise (missing, or made with other parameters) it is
    generated again, with a log line saying so.

    Args:
        root (str): Dataset folder.
        **kwargs: Arguments of :func:`generate_synthetic_dataset`.

    Returns:
        dict: The summary of :func:`generate_synthetic_dataset`; when the existing data is
        reused it comes from the meta file, with ``generated`` False.
    """
    try:
        bound = inspect.signature(generate_synthetic_dataset).bind(root, **kwargs)
    except TypeError as e:
        raise TypeError(f'bad synthetic dataset options {sorted(kwargs)}: {e}') from None
    bound.apply_defaults()
    options = dict(bound.arguments)
    options.pop('root')
    options.pop('num_workers')
    params = _generation_params(**options)
    meta = _read_meta(root)
    complete = all(osp.isfile(osp.join(root, PHOENIX_DIR, ANNOTATION_DIR, f'{s}.corpus.csv'))
                   for s in SPLITS)
    if meta is not None and meta.get('params') == params and complete:
        summary = dict(meta.get('summary', {}))
        splits = summary.get('splits', {})
        summary['splits'] = {split: splits[split] for split in SPLITS if split in splits}
        summary.update(root=osp.abspath(root), generated=False, seconds=0.0,
                       vocab_file=osp.join(osp.abspath(root), VOCAB_FILE))
        return summary
    reason = 'it is missing' if meta is None else 'it was made with other parameters'
    print_log(f'Generating the synthetic sign language dataset into {osp.abspath(root)} '
              f'({reason}); this takes a few seconds.', logger='current')
    summary = generate_synthetic_dataset(root, **kwargs)
    print_log(f"Synthetic dataset ready: {summary['splits']['train']['num_videos']} train / "
              f"{summary['splits']['dev']['num_videos']} dev / "
              f"{summary['splits']['test']['num_videos']} test videos, "
              f"{len(summary['glosses'])} glosses, {summary['seconds']} s.",
              logger='current')
    return summary

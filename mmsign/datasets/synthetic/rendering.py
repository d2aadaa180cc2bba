"""Rendering a signed sentence: hand states per frame, the signer and the camera."""
import math
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np

from mmsign.datasets.synthetic.design import SignDesign, SignerStyle

_REST_LEFT = (0.40, 0.92)
_REST_RIGHT = (0.60, 0.92)
_HEAD = (0.50, 0.20)

@dataclass(frozen=True)
class _Hand:
    x: float
    y: float
    colour: Tuple[float, float, float]
    shape: str
    size: float
    angle: float

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


class SignRenderer:
    """Draws the sentences of a synthetic language (a base of
    :class:`~mmsign.datasets.synthetic.language.SyntheticSignLanguage`, whose
    ``designs``, ``styles`` and ``image_size`` it reads)."""

    AMPLITUDE = 0.085
    HAND_RADIUS = 0.095
    REST_RADIUS = 0.06

    designs: Dict[str, SignDesign]
    styles: Dict[str, SignerStyle]
    image_size: int

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


__all__ = ['SignRenderer']

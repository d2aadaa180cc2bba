"""The sign designs and signer styles of the synthetic sign language.

Each gloss of a small vocabulary is a "sign": one or two coloured hand-like blobs that
follow a gloss-specific trajectory at a gloss-specific place of the signing space, with a
gloss-specific shape and colour (:class:`SignDesign`); signers differ in background,
body, speed, lighting and camera noise (:class:`SignerStyle`).
"""
import math
from dataclasses import dataclass
from typing import List, Tuple

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

def hsv_to_rgb(h: float, s: float, v: float) -> Tuple[float, float, float]:
    """HSV in [0, 1] to RGB in [0, 255]."""
    i = int(h * 6.0) % 6
    f = h * 6.0 - math.floor(h * 6.0)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    r, g, b = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
    return (255.0 * r, 255.0 * g, 255.0 * b)


def design_slot(slot: int) -> dict:
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



def synthetic_glosses(num_glosses: int = 16) -> List[str]:
    """The vocabulary of a synthetic language of ``num_glosses`` glosses, in class order.

    The glosses are the first ``num_glosses`` of :data:`GLOSS_NAMES`, sorted (class
    ``i + 1`` is ``synthetic_glosses(n)[i]``); a config computes its ``model.vocab``
    with it instead of copying the list.

    Args:
        num_glosses (int): Vocabulary size, 2 to :data:`MAX_GLOSSES`. Defaults to 16.

    Returns:
        list[str]: The sorted glosses.
    """
    if not 2 <= num_glosses <= MAX_GLOSSES:
        raise ValueError(f'num_glosses must be in [2, {MAX_GLOSSES}], got {num_glosses}')
    return sorted(GLOSS_NAMES[:num_glosses])


__all__ = ['GLOSS_NAMES', 'HAND_COLOURS', 'MAX_GLOSSES', 'PLACES', 'SHAPES', 'SignDesign',
           'SignerStyle', 'TEXTURES', 'TRAJECTORIES', 'TWO_HAND_SPREAD', 'synthetic_glosses']

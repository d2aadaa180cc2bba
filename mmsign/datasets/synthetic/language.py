"""The synthetic language: its sign designs, bigram grammar and signers."""
import math
from typing import Dict, List

import numpy as np

from mmsign.datasets.synthetic.design import (
    MAX_GLOSSES,
    TEXTURES,
    SignDesign,
    SignerStyle,
    design_slot,
    hsv_to_rgb,
    synthetic_glosses,
)
from mmsign.datasets.synthetic.rendering import SignRenderer


class SyntheticSignLanguage(SignRenderer):
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
        self.glosses: List[str] = synthetic_glosses(num_glosses)

        rng = np.random.default_rng([seed, 100])
        slots = rng.permutation(num_glosses)
        self.designs: Dict[str, SignDesign] = {
            g: SignDesign(gloss=g, **design_slot(int(s))) for g, s in zip(self.glosses, slots)
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
        background = hsv_to_rgb(rng.uniform(), rng.uniform(0.0, 0.3), rng.uniform(0.3, 0.72))
        skin = hsv_to_rgb(rng.uniform(0.03, 0.09), rng.uniform(0.25, 0.55),
                           rng.uniform(0.45, 0.92))
        shirt = hsv_to_rgb(rng.uniform(), rng.uniform(0.1, 0.6), rng.uniform(0.12, 0.35))
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


__all__ = ['SyntheticSignLanguage']

"""A deterministic synthetic continuous sign language dataset in the PHOENIX14 layout.

Each gloss of a small vocabulary is a "sign": one or two coloured hand-like blobs that
follow a gloss-specific trajectory at a gloss-specific place of the signing space, with a
gloss-specific shape and colour. A sentence of 2 to 8 glosses, drawn from a random bigram
grammar, is signed by a cartoon signer (head, torso, resting hands) in front of a
signer-specific background; consecutive signs are joined by short co-articulation
transitions in which the hands move and change colour smoothly. Signers differ in
background colour and texture, body scale, position, speed, motion amplitude, lighting
and camera noise; the dev and test splits use signers never seen in training.

The package, one job per module:

- :mod:`.design`: the sign designs and signer styles, and the vocabulary
  (:func:`synthetic_glosses`, which configs call for ``model.vocab``);
- :mod:`.language`: :class:`SyntheticSignLanguage`, designs + grammar + signers;
- :mod:`.rendering`: drawing a signed sentence;
- :mod:`.options`: :class:`SyntheticOptions`, the frozen generator argument and cache key;
- :mod:`.layout`: planning the splits and writing the PHOENIX-2014 layout
  (:func:`generate_synthetic_dataset`, :func:`ensure_synthetic_dataset`);
- :mod:`.pool`: rendering and writing the videos, in this process or in a pool.

Every video draws its random numbers from its own generator seeded by
``(seed, split, index)``, so the bytes written depend only on the options, never on
the order of work or the number of worker processes.
"""
from mmsign.datasets.synthetic.design import (
    GLOSS_NAMES,
    MAX_GLOSSES,
    SignDesign,
    SignerStyle,
    synthetic_glosses,
)
from mmsign.datasets.synthetic.language import SyntheticSignLanguage
from mmsign.datasets.synthetic.layout import (
    ANNOTATION_DIR,
    META_FILE,
    SPLITS,
    VOCAB_FILE,
    ensure_synthetic_dataset,
    generate_synthetic_dataset,
)
from mmsign.datasets.synthetic.options import FORMAT_VERSION, SyntheticOptions
from mmsign.datasets.synthetic.pool import FRAME_DIR, PHOENIX_DIR, VIDEO_DIR

__all__ = [
    'ANNOTATION_DIR', 'FORMAT_VERSION', 'FRAME_DIR', 'GLOSS_NAMES', 'MAX_GLOSSES',
    'META_FILE', 'PHOENIX_DIR', 'SPLITS', 'SignDesign', 'SignerStyle', 'SyntheticOptions',
    'SyntheticSignLanguage', 'VIDEO_DIR', 'VOCAB_FILE', 'ensure_synthetic_dataset',
    'generate_synthetic_dataset', 'synthetic_glosses'
]

"""Prepare CSL frames (resize to 256x256), its vocabulary and a frame check.

Example::

    python tools/data/csl/preprocess.py --root data/csl

Frames are read from ROOT/frames and written with the same
layout to ROOT/DST (default: the folder the dataset config reads). Folders already
complete are skipped, so an interrupted run can be restarted. Problems (missing or empty
folders, unreadable frames, frame counts that disagree with the annotations) are listed
at the end and make the exit status 1.
"""
import sys

from mmsign.datasets import CSLDataset
from mmsign.datasets.preparation import main

if __name__ == '__main__':
    sys.exit(main(CSLDataset, 'frames', __doc__.splitlines()[0]))

"""Prepare PHOENIX14-T frames (resize to 256x256), its vocabulary and a frame check.

Example::

    python tools/data/phoenix2014t/preprocess.py --root data/phoenix2014t/PHOENIX-2014-T

Frames are read from ROOT/features/fullFrame-210x260px and written with the same
layout to ROOT/DST (default: the folder the dataset config reads). Folders already
complete are skipped, so an interrupted run can be restarted. Problems (missing or empty
folders, unreadable frames, frame counts that disagree with the annotations) are listed
at the end and make the exit status 1.
"""
import sys

from mmsign.datasets import Phoenix2014TDataset
from mmsign.datasets.preparation import main

if __name__ == '__main__':
    sys.exit(main(Phoenix2014TDataset, 'features/fullFrame-210x260px', __doc__.splitlines()[0]))

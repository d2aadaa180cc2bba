"""Prepare CSL-Daily frames (resize to 256x256), its vocabulary and a frame check.

Example::

    python tools/data/csl-daily/preprocess.py --root data/csl-daily

Frames are read from ROOT/sentence/frames_512x512 and written with the same
layout to ROOT/DST (default: the folder the dataset config reads). Folders already
complete are skipped, so an interrupted run can be restarted. Problems (missing or empty
folders, unreadable frames, frame counts that disagree with the annotations) are listed
at the end and make the exit status 1.
"""
import sys

from mmsign.datasets import CSLDailyDataset
from mmsign.datasets.preparation import main

if __name__ == '__main__':
    sys.exit(main(CSLDailyDataset, 'sentence/frames_512x512', __doc__.splitlines()[0]))

"""PHOENIX hypothesis normalisation: each rule, its order, and agreement with ``sed``."""
import json
import os
import os.path as osp
import subprocess

import pytest
from sclite_oracle import PHOENIX_DROP, PHOENIX_SED

from mmsign.evaluation import NORMALIZATIONS, get_normalization

PHOENIX = get_normalization('phoenix2014')
NONE = get_normalization('none')


@pytest.mark.parametrize('raw, expected', [
    ('loc-NORD', 'NORD'),
    ('cl-KOMMEN', 'KOMMEN'),
    ('qu-WAS', 'WAS'),
    ('poss-EUCH', 'EUCH'),
    ('lh-HOCH', 'HOCH'),
    ('negalp-AUCH', 'negalp-AUCH'),
])
def test_prefixes_are_deleted(raw, expected):
    assert PHOENIX.apply_one(raw) == expected


def test_misspellings_are_corrected():
    assert PHOENIX.apply_one('S0NNE') == 'SONNE'
    assert PHOENIX.apply_one('HABEN2') == 'HABEN'
    assert PHOENIX.apply_one('HABEN') == 'HABEN'


@pytest.mark.parametrize('token', ['__EMOTION__', '__PU__', '__LEFTHAND__', '__EPENTHESIS__'])
def test_non_manual_tokens_are_not_scored(token):
    assert PHOENIX.apply_one(token) == ''
    assert PHOENIX.apply(['A', token, 'B']) == ['A', 'B']


def test_deleted_tokens_inside_a_gloss():
    assert PHOENIX.apply_one('REGEN__PU__') == 'REGEN'
    # Deleting __EMOTION__ once leaves a new __EMOTION__ behind: sed does one pass and
    # grep then drops the line.
    assert PHOENIX.apply_one('__EMO__EMOTION__TION__') == ''
    assert PHOENIX.apply_one('X__EPENTHESIS__') == ''


def test_zeigen_gets_bildschirm():
    assert PHOENIX.apply_one('ZEIGEN') == 'ZEIGEN-BILDSCHIRM'
    assert PHOENIX.apply_one('loc-ZEIGEN') == 'ZEIGEN-BILDSCHIRM'
    assert PHOENIX.apply_one('AUFZEIGEN') == 'AUFZEIGEN-BILDSCHIRM'
    assert PHOENIX.apply_one('ZEIGEN-BILDSCHIRM') == 'ZEIGEN-BILDSCHIRM'
    # The ZEIGEN rule runs before -PLUSPLUS is deleted.
    assert PHOENIX.apply_one('ZEIGEN-PLUSPLUS') == 'ZEIGEN'


@pytest.mark.parametrize('raw, expected', [
    ('NORDRAUM', 'NORD'),
    ('DEUTSCHLANDRAUM', 'DEUTSCHLAND'),
    ('loc-SUEDRAUM', 'SUED'),
    ('RAUM', 'RAUM'),
    ('TRAUM', 'TRAUM'),
    ('loc-RAUM', 'RAUM'),
    ('ABRAUMRAUM', 'ABRAUM'),
])
def test_region_suffix_raum(raw, expected):
    assert PHOENIX.apply_one(raw) == expected


def test_plusplus_is_deleted_after_other_rules():
    assert PHOENIX.apply_one('REGEN-PLUSPLUS') == 'REGEN'
    assert PHOENIX.apply_one('loc-HABEN2-PLUSPLUS') == 'HABEN'
    assert PHOENIX.apply_one('-PLUSPLUS') == ''


def test_repeated_glosses_are_kept_and_order_preserved():
    assert PHOENIX.apply(['REGEN', 'loc-REGEN', 'REGEN', 'WIE', 'AUSSEHEN']) == [
        'REGEN', 'REGEN', 'REGEN', 'WIE', 'AUSSEHEN'
    ]


def test_none_keeps_everything_but_empty_glosses():
    glosses = ['loc-NORD', '__EPENTHESIS__', '爱-1', 'ZEIGEN', '']
    assert NONE.apply(glosses) == glosses[:-1]


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(KeyError, match='phoenix2014'):
        get_normalization('phoenix')
    assert set(NORMALIZATIONS) == {'phoenix2014', 'none'}


def test_agrees_with_the_released_sed_script_on_the_whole_vocabulary(release_data, tmp_path):
    glosses = []
    for dataset in ('phoenix2014', 'phoenix2014-T'):
        with open(osp.join(release_data, dataset, 'gloss_vocab.json'), encoding='utf-8') as f:
            glosses += json.load(f)['glosses']
    glosses += ['__EPENTHESIS__', 'loc-ZEIGEN', 'ZEIGEN-PLUSPLUS', 'NORDRAUM-PLUSPLUS',
                'poss-S0NNE', '__EMO__EMOTION__TION__', 'cl-lh-HABEN2']
    lines = ''.join(f'01April_2010_Thursday_heute_default-0 1 0.00 0.01 {g}\n'
                    for g in glosses)
    cmd = ['sed']
    for expression in PHOENIX_SED:
        cmd += ['-e', expression]
    out = subprocess.run(cmd, input=lines, capture_output=True, text=True, check=True,
                         env=dict(os.environ, LC_ALL='C')).stdout.splitlines()
    by_sed = []
    for line in out:
        fields = line.split()
        dropped = len(fields) < 5 or any(token in line for token in PHOENIX_DROP)
        by_sed.append('' if dropped else fields[4])
    assert len(glosses) > 2000
    assert [PHOENIX.apply_one(g) for g in glosses] == by_sed
    assert sum(a != b for a, b in zip(glosses, by_sed)) > 100  # the rules did fire

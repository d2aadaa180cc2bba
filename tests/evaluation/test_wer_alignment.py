"""sclite-compatible alignment: costs, tie-breaking and case rules, with sclite as oracle."""
import random

import pytest
from sclite_oracle import requires_sclite, score_pairs_with_sclite

from mmsign.evaluation import ErrorCounts, align, count_errors, counts_of


def _ops(ref, hyp):
    return ''.join(pair.op for pair in align(ref, hyp))


def test_costs_prefer_one_substitution_over_insertion_plus_deletion():
    assert count_errors(['A', 'B', 'C'], ['A', 'X', 'C']) == ErrorCounts(1, 0, 0, 3)
    assert _ops(['A', 'B', 'C'], ['A', 'X', 'C']) == 'CSC'


def test_tie_three_substitutions_against_two_deletions_two_insertions():
    # Both alignments cost 12; sclite keeps the three substitutions.
    ref, hyp = ['A', 'B', 'C'], ['C', 'D', 'E']
    assert _ops(ref, hyp) == 'SSS'
    assert count_errors(ref, hyp) == ErrorCounts(3, 0, 0, 3)


def test_tie_where_sclite_does_not_take_the_fewest_errors():
    # 3 S + 1 D (4 errors) and 3 D + 2 I (5 errors) both cost 15; sclite's backtrace
    # takes the second, so "fewest errors" or "most substitutions" would be wrong.
    ref, hyp = ['A', 'A', 'A', 'B', 'C'], ['B', 'C', 'C', 'B']
    assert _ops(ref, hyp) == 'DDDCICI'
    assert count_errors(ref, hyp) == ErrorCounts(0, 3, 2, 5)


def test_deletion_goes_first_when_the_end_matches_diagonally():
    assert _ops(['A', 'B', 'C', 'D'], ['E', 'F', 'G']) == 'DSSS'
    assert _ops(['A'], ['B', 'C']) == 'IS'


def test_case_insensitive_for_ascii_only():
    assert count_errors(['NORD', 'Regen', 'b'], ['nord', 'REGEN', 'B']).errors == 0
    # sclite folds ASCII letters only: umlauts keep their case.
    assert count_errors(['ÄHNLICH'], ['äHNLICH']) == ErrorCounts(1, 0, 0, 1)
    assert align(['Regen'], ['REGEN'])[0] == ('C', 'Regen', 'REGEN')


def test_empty_sides():
    assert count_errors([], ['A', 'B']) == ErrorCounts(0, 0, 2, 0)
    assert count_errors(['A', 'B'], []) == ErrorCounts(0, 2, 0, 2)
    assert count_errors([], []) == ErrorCounts()
    assert align([], []) == []


def test_repeated_glosses_are_not_merged():
    assert count_errors(['REGEN'], ['REGEN', 'REGEN', 'REGEN']) == ErrorCounts(0, 0, 2, 1)


def test_error_counts_arithmetic():
    total = ErrorCounts(1, 2, 3, 10) + ErrorCounts(0, 1, 0, 5)
    assert total == ErrorCounts(1, 3, 3, 15)
    assert total.errors == 7 and total.correct == 11
    assert total.wer == pytest.approx(100 * 7 / 15)
    assert ErrorCounts(0, 0, 2, 0).wer == float('inf')


def _random_pairs(seed, count):
    rng = random.Random(seed)
    pairs = []
    for _ in range(count):
        alphabet = rng.choice(['AB', 'ABC', 'ABCDE', 'AaBb'])
        ref = [rng.choice(alphabet) for _ in range(rng.randint(0, rng.choice([4, 9, 20])))]
        hyp = [rng.choice(alphabet + 'Z') for _ in range(rng.randint(1, rng.choice([4, 9, 20])))]
        pairs.append((ref, hyp))
    return pairs


def test_fast_counts_equal_the_full_alignment():
    for ref, hyp in _random_pairs(seed=1, count=3000):
        assert count_errors(ref, hyp) == counts_of(align(ref, hyp)), (ref, hyp)


@requires_sclite
def test_alignment_and_counts_equal_sclite_on_random_pairs(tmp_path):
    pairs = _random_pairs(seed=0, count=4000)
    pairs += [(['A', 'A', 'A', 'B', 'C'], ['B', 'C', 'C', 'B']), (['A', 'B', 'C'],
                                                                  ['C', 'D', 'E'])]
    expected = score_pairs_with_sclite(pairs, str(tmp_path))
    mismatches = []
    for (ref, hyp), (sclite_ops, sclite_counts) in zip(pairs, expected):
        counts = count_errors(ref, hyp)
        got = (_ops(ref, hyp), counts.correct, counts.substitutions, counts.deletions,
               counts.insertions)
        if got != (sclite_ops, *sclite_counts):
            mismatches.append((ref, hyp, got, sclite_ops, sclite_counts))
    assert not mismatches, mismatches[:5]

"""The embedded default: DeepMimic clips x Anny subjects, split by subject."""

import numpy as np

from builder.dataset.splits import assign_splits
from builder.sources.embedded import DEFAULT_SUBJECTS, write_embedded_default
from builder.sources.read import read_motion


def test_each_clip_is_written_once_per_subject_with_its_body(tmp_path):
    paths = write_embedded_default(tmp_path, clips=("walk", "kick"))
    assert len(paths) == 2 * len(DEFAULT_SUBJECTS)
    walks = [read_motion(p)[0] for p in paths if "walk" in p.name]
    assert {s.subject for s in walks} == {s.subject_id for s in DEFAULT_SUBJECTS}
    for sequence, subject in zip(walks, DEFAULT_SUBJECTS):
        assert sequence.sequence_id == f"deepmimic_walk__{subject.subject_id}"
        assert sequence.gender == subject.gender and sequence.body_phenotype == subject.phenotype
        assert sequence.fps == 30.0
        np.testing.assert_array_equal(sequence.poses, walks[0].poses)  # same motion, other body
    assert walks[0].num_frames > 4 * 30  # four strides of the looping walk


def test_existing_files_are_kept(tmp_path):
    (first, *_) = write_embedded_default(tmp_path, clips=("kick",))
    stamp = first.stat().st_mtime_ns
    write_embedded_default(tmp_path, clips=("kick",))
    assert first.stat().st_mtime_ns == stamp


def test_default_motions_split_by_subject_so_no_body_is_in_both_splits():
    triples = [(f"deepmimic_{clip}__{s.subject_id}", "deepmimic", s.subject_id)
               for clip in ("walk", "run", "jump") for s in DEFAULT_SUBJECTS]
    split = assign_splits(triples)
    by_subject = {}
    for sequence_id, _, subject in triples:
        by_subject.setdefault(subject, set()).add(split[sequence_id])
    assert all(len(s) == 1 for s in by_subject.values())
    test_subjects = {subject for subject, splits in by_subject.items() if splits == {"test"}}
    assert test_subjects == {"anny01", "anny04", "anny06"}   # 3 of 10 never seen in training


def test_subject_phenotype_shapes_the_anny_body(tmp_path):
    from builder.body import make_body, measure_subject

    paths = write_embedded_default(tmp_path, subjects=(DEFAULT_SUBJECTS[1], DEFAULT_SUBJECTS[2]), clips=("kick",))
    small, large = (measure_subject(make_body(read_motion(p)[0])) for p in paths)
    assert large.height > small.height + 0.05 and large.mass > small.mass + 10

"""Write-time marks: found by offset in a marks file, true even out of order, and mapped to
the lines of a chunk by bytes."""

from __future__ import annotations

from tui.widgets.log_tail import line_times
from tui.workspace.base import LogChunk
from tui.workspace.local.logtimes import append_mark, marks_covering


def test_the_marks_a_chunk_needs_are_found_past_its_start_up_to_its_end(tmp_path):
    path = tmp_path / "marks"
    assert marks_covering(path, 0, 10) is None  # no marks at all
    for end in range(10, 1001, 10):
        append_mark(path, end, float(end))
    assert marks_covering(path, 495, 520) == [(500, 500.0), (510, 510.0), (520, 520.0)]
    assert marks_covering(path, 500, 501) == [(510, 510.0)]
    assert marks_covering(path, 995, 2000) == [(1000, 1000.0)]  # not marked that far yet
    assert marks_covering(path, 1000, 2000) == []


def test_marks_out_of_order_still_give_every_line_a_time_no_earlier_than_its_write(tmp_path):
    # Two writers raced: (30, 3.0) was appended before (20, 2.0).
    path = tmp_path / "marks"
    for end, when in ((10, 1.0), (30, 3.0), (20, 2.0), (40, 4.0)):
        append_mark(path, end, when)
    text = "".join(f"line {i:03d}\n" for i in range(4))  # lines of 9 bytes end at 9, 18, 27, 36
    chunk = LogChunk("f", 0, len(text), text, times=tuple(marks_covering(path, 0, len(text))))
    assert line_times(chunk, 4) == [1.0, 3.0, 3.0, 4.0]


def test_a_lines_time_is_found_by_its_end_in_bytes():
    text = "é" * 5 + "\nb\nc\n"  # the first line ends at byte 11, character 6
    chunk = LogChunk("f", 100, 100 + len(text.encode()), text, times=((111, 1.0), (115, 2.0)))
    assert line_times(chunk, 3) == [1.0, 2.0, 2.0]

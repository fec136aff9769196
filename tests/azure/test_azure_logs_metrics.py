"""Logs by HTTP Range from SAS URLs (no byte fetched twice), and metrics through MLflow REST."""

from __future__ import annotations

import pytest

from tui.workspace.base import NotFoundError

LOG = "user_logs/std_log.txt"


def blob_gets(fake, job="j"):
    return [r for r in fake.requests if r.host.endswith(".blob.core.windows.net") and f"dcid.{job}/" in r.path]


def follow_all(ws, job, file=LOG, max_bytes=1 << 20):
    """Read to the current end, as a follower does; returns the text."""
    text, offset = "", 0
    while True:
        chunk = ws.read_log(job, file, offset, max_bytes)
        if chunk.next_offset == offset and not chunk.text:
            return text
        text += chunk.text
        offset = chunk.next_offset


def test_log_files_system_first_then_user_by_rank(fake, azure_ws):
    fake.add_job("j", "Running", logs={
        "user_logs/std_log_process_10.txt": b"", "user_logs/std_log_process_2.txt": b"",
        "user_logs/std_log.txt": b"", "system_logs/lifecycler/execution-wrapper.log": b"",
        "system_logs/cs_capability/cs-capability.log": b""})
    files = azure_ws.log_files("j")
    assert [f.name for f in files] == [
        "system_logs/cs_capability/cs-capability.log", "system_logs/lifecycler/execution-wrapper.log",
        "user_logs/std_log.txt", "user_logs/std_log_process_2.txt", "user_logs/std_log_process_10.txt"]
    if hasattr(files[0], "role"):
        assert [f.role for f in files] == ["system", "system", "user", "user", "user"]
        assert [f.rank for f in files] == [None, None, None, 2, 10]
    assert all("sig=" not in f.name for f in files)


def test_a_log_is_read_by_range_without_the_bearer_token(fake, azure_ws):
    fake.add_job("j", "Queued", script=[("Running", {LOG: b"epoch 1 loss 0.9\n"}),
                                        ("Completed", {LOG: b"epoch 2 loss 0.5\n"})])
    assert azure_ws.log_files("j") == []  # nothing written yet
    fake.tick()
    fake.tick()
    assert follow_all(azure_ws, "j") == "epoch 1 loss 0.9\nepoch 2 loss 0.5\n"
    gets = blob_gets(fake)
    assert all("Authorization" not in r.headers for r in gets)  # a SAS URL, never the bearer token
    assert [r.headers["Range"] for r in gets] == ["bytes=0-1048575", "bytes=34-1048609"]
    assert [r.status for r in gets] == [206, 416]  # 416: nothing new past the end


def test_follow_a_job_while_it_runs(fake, azure_ws):
    fake.add_job("j", "Queued", script=[
        ("Running", {LOG: b"line 1\n"}), ("Running", {LOG: b"line 2\nline 3\n"}), ("Running", {}),
        ("Completed", {LOG: b"bye\n"})])
    text, offset = "", 0
    for _ in range(6):
        fake.tick()
        if azure_ws.log_files("j"):
            chunk = azure_ws.read_log("j", LOG, offset)
            text += chunk.text
            offset = chunk.next_offset
    assert text == "line 1\nline 2\nline 3\nbye\n"
    gets = blob_gets(fake)
    starts = [int(r.headers["Range"].split("=")[1].split("-")[0]) for r in gets]
    fetched = [(s, s + r.body_bytes) for s, r in zip(starts, gets)]
    # Every byte of the file came exactly once: the ranges fetched tile it without overlap.
    covered = sorted(b for a, z in fetched for b in range(a, z))
    assert covered == list(range(len(text.encode())))
    assert azure_ws.log_bytes_fetched == len(text.encode())


def test_a_multibyte_character_cut_by_max_bytes_is_held_not_refetched(fake, azure_ws):
    data = "naïve ☃ 𝄞 end\n".encode()
    fake.add_job("j", "Completed", logs={LOG: data})
    text, offset, chunks = "", 0, 0
    while True:
        chunk = azure_ws.read_log("j", LOG, offset, max_bytes=3)
        if chunk.next_offset == offset and not chunk.text:
            break
        assert "\ufffd" not in chunk.text
        text += chunk.text
        offset = chunk.next_offset
        chunks += 1
    assert text == data.decode() and offset == len(data)
    assert sum(r.body_bytes for r in blob_gets(fake)) == len(data)  # the held tail was not fetched again


def test_final_chunk_once_the_job_ended(fake, azure_ws):
    fake.add_job("j", "Running", logs={LOG: b"all done \xe2\x98"}, script=[("Completed", {})])
    azure_ws.log_files("j")
    running = azure_ws.read_log("j", LOG)
    assert running.text == "all done " and running.next_offset == 9  # the cut character may still come
    fake.tick()
    azure_ws.log_files("j")  # the follower's poll sees the job ended
    last = azure_ws.read_log("j", LOG, running.next_offset)
    # It never will: decoded as U+FFFD, and the chunk says the file is done.
    assert last.text == "\ufffd" and last.next_offset == 11
    if hasattr(last, "final"):
        assert last.final and not running.final


def test_sas_expiry_gets_a_fresh_url_from_run_details(fake, azure_ws):
    fake.add_job("j", "Running", logs={LOG: b"first\n"})
    first = azure_ws.read_log("j", LOG)
    fake.jobs["j"].logs[LOG].extend(b"second\n")
    fake.expire_sas()
    second = azure_ws.read_log("j", LOG, first.next_offset)
    assert first.text + second.text == "first\nsecond\n"
    gets = blob_gets(fake)
    assert [r.status for r in gets] == [206, 403, 206]
    assert "se=gen1" in gets[1].url and "se=gen2" in gets[2].url
    assert sum(r.path.endswith("/runs/j/details") for r in fake.requests) == 2


def test_a_server_that_ignores_range_is_sliced(fake, azure_ws):
    fake.ignore_range = True
    fake.add_job("j", "Completed", logs={LOG: b"0123456789\n"})
    a = azure_ws.read_log("j", LOG, 0, 4)
    b = azure_ws.read_log("j", LOG, a.next_offset, 100)
    c = azure_ws.read_log("j", LOG, b.next_offset)
    assert (a.text, b.text, c.text) == ("0123", "456789\n", "")
    assert (a.offset, a.next_offset, b.next_offset, c.next_offset) == (0, 4, 11, 11)


def test_unknown_log_file_and_job(fake, azure_ws):
    fake.add_job("j", "Running", logs={LOG: b"x"})
    with pytest.raises(NotFoundError, match="no log file 'user_logs/nope.txt'"):
        azure_ws.read_log("j", "user_logs/nope.txt")
    with pytest.raises(NotFoundError, match="job 'ghost' not found"):
        azure_ws.log_files("ghost")


def test_follow_backs_off_while_quiet_and_stops_when_done():
    from tui.workspace.azure.logs import follow
    from tui.workspace.base import LogChunk

    # What the file gains before each read; the job ends after the last.
    growth = [b"a\n", b"", b"", b"", b"b\n", b"", b"cccccccccc\n"]
    file = bytearray()
    reads = []

    def read(offset):
        reads.append(offset)
        if growth:
            file.extend(growth.pop(0))
        piece = bytes(file[offset:offset + 8])  # max_bytes=8: the last line takes two reads
        return LogChunk(LOG, offset, offset + len(piece), piece.decode())

    sleeps = []
    chunks = list(follow(read, lambda: not growth, max_bytes=8, min_interval=1, max_interval=3,
                         sleep=sleeps.append))
    assert "".join(c.text for c in chunks) == "a\nb\ncccccccccc\n"
    # After new bytes the shortest wait; while quiet 1, 2, 3 (capped); a full chunk reads on at once.
    assert sleeps == [1, 1, 2, 3, 1, 1, 1]
    assert len(reads) == 10  # one read per poll, one more for the full chunk, a last one once ended


def test_metrics_through_mlflow_rest(fake, azure_ws, monkeypatch):
    from tui.workspace.azure import metrics

    monkeypatch.setattr(metrics, "HISTORY_PAGE", 2)  # page the history: 5 points, 3 pages
    fake.add_job("j", "Completed", metrics={"loss": [(1, 0.9), (2, 0.5), (3, 0.4), (4, 0.3), (5, 0.2)],
                                            "accuracy": [(5, 0.97)]})
    got = azure_ws.job_metrics("j")
    assert [p.value for p in got["loss"]] == [0.9, 0.5, 0.4, 0.3, 0.2]
    assert [p.step for p in got["loss"]] == [1, 2, 3, 4, 5] and got["accuracy"][0].value == 0.97
    assert got["loss"][0].timestamp > 1e9  # seconds, not milliseconds
    mlflow = [r for r in fake.requests if "/api/2.0/mlflow/" in r.path]
    assert all(r.headers["Authorization"].startswith("Bearer ") for r in mlflow)
    assert sum("get-history" in r.path for r in mlflow) == 4 and "run_id=j" in mlflow[0].url
    assert mlflow[0].host == "westeurope.api.azureml.ms"  # azureml:// tracking URI -> https


def test_metrics_of_a_job_without_a_run(fake, azure_ws):
    assert azure_ws.job_metrics("never-ran") == {}

"""The template miner: stable ids, generalisation, merging, eviction and the exact fast path."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from canarywatch.config import TemplatesConfig
from canarywatch.errors import StateError
from canarywatch.events import TemplateMatch
from canarywatch.templates import TemplateMiner
from canarywatch.templates.base import Templater


def test_implements_templater() -> None:
    """TemplateMiner satisfies the pipeline's Templater protocol."""
    miner: Templater = TemplateMiner(TemplatesConfig())
    assert miner.template_count("svc") == 0


def test_same_message_other_parameters_same_template() -> None:
    """Lines that differ only in parameters share one template id, the first being new."""
    miner = TemplateMiner(TemplatesConfig())
    first = miner.match("svc", "Timeout talking to 10.0.0.7:5432 after 3000 ms")
    second = miner.match("svc", "Timeout talking to 10.2.9.1:6379 after 150 ms")
    assert first.is_new_template and not second.is_new_template
    assert first.template_id == second.template_id
    assert second.template == "Timeout talking to <*> after <*>"


def test_different_errors_do_not_merge() -> None:
    """Two different error messages of the same length stay two templates."""
    miner = TemplateMiner(TemplatesConfig())
    a = miner.match("svc", "connection to 10.0.0.1 refused by upstream server")
    b = miner.match("svc", "connection to 10.0.0.2 reset by upstream peer")
    c = miner.match("svc", "connection to 10.0.0.3 refused by upstream server")
    assert a.template_id != b.template_id
    assert c.template_id == a.template_id


def test_generalising_keeps_the_id() -> None:
    """When a word position becomes a parameter the template text changes, its id does not."""
    miner = TemplateMiner(TemplatesConfig())
    a = miner.match("svc", "worker finished job 7 in queue cleanup")
    b = miner.match("svc", "worker finished job 8a in queue cleanup")
    assert a.template_id == b.template_id
    assert b.template == "worker finished job <*> in queue cleanup"
    assert miner.template_text("svc", a.template_id) == b.template


def test_event_words_stay_apart_names_merge() -> None:
    """A position of a few common plain words stays words; many rare words become <*>."""
    miner = TemplateMiner(TemplatesConfig())
    events = [miner.match("svc", f"VM {word} (Lifecycle Event)").template_id
              for _ in range(8) for word in ("Started", "Paused", "Resumed", "Stopped")]
    assert len({miner.canonical_id("svc", i) for i in events}) == 4
    names = [miner.match("svc", f"worker finished job {name} in queue cleanup").template_id
             for name in ("alpha", "beta", "gamma", "delta", "epsilon", "zeta")]
    assert len({miner.canonical_id("svc", i) for i in names}) == 1
    assert miner.template_text("svc", names[0]) == "worker finished job <*> in queue cleanup"


def test_services_have_separate_miners() -> None:
    """Each service has its own templates and ids."""
    miner = TemplateMiner(TemplatesConfig())
    a = miner.match("cart", "cart emptied by user")
    b = miner.match("checkout", "checkout started by user")
    assert a.template_id == b.template_id == 1
    assert miner.template_count("cart") == miner.template_count("checkout") == 1
    assert miner.template_text("checkout", 1) == "checkout started by user"


def test_many_rare_values_at_one_position_merge() -> None:
    """Enough rarely repeated values at one position make it a parameter; old ids map over."""
    miner = TemplateMiner(TemplatesConfig(merge_min_variants=4))
    ids = [miner.match("svc", f"removing service {name}").template_id
           for name in ("echo", "chargen", "daytime", "telnet", "kshell")]
    live = {miner.canonical_id("svc", i) for i in ids}
    assert live == {ids[0]}
    assert miner.template_text("svc", ids[1]) == "removing service <*>"
    assert miner.template_count("svc") == 1


def test_few_frequent_values_do_not_merge() -> None:
    """Two values seen many times each are two templates (state Active / Inactive)."""
    miner = TemplateMiner(TemplatesConfig(merge_min_variants=4))
    for _ in range(10):
        miner.match("svc", "icon state now Active")
        miner.match("svc", "icon state now Inactive")
    assert miner.template_count("svc") == 2


def test_merging_can_be_turned_off() -> None:
    """merge_min_variants=0 keeps every variant its own template."""
    miner = TemplateMiner(TemplatesConfig(merge_min_variants=0))
    for name in ("echo", "chargen", "daytime", "telnet", "kshell"):
        miner.match("svc", f"removing service {name}")
    assert miner.template_count("svc") == 5


def test_eviction_drops_least_recently_seen_and_never_reuses_ids() -> None:
    """Past max_clusters the least recently seen template goes; new ones get fresh ids."""
    miner = TemplateMiner(TemplatesConfig(max_clusters=2, merge_min_variants=0))
    a = miner.match("svc", "disk full on volume data")
    b = miner.match("svc", "cache warmed in background thread")
    miner.match("svc", "disk full on volume data")  # a is now more recent than b
    c = miner.match("svc", "leader elected for shard group")
    assert miner.template_count("svc") == 2
    assert miner.canonical_id("svc", b.template_id) is None
    with pytest.raises(KeyError):
        miner.template_text("svc", b.template_id)
    assert miner.canonical_id("svc", a.template_id) == a.template_id
    again = miner.match("svc", "cache warmed in background thread")
    assert again.is_new_template
    assert again.template_id not in {a.template_id, b.template_id, c.template_id}


def _corpus(seed: int, count: int) -> list[str]:
    """Lines from a few message shapes with random parameters and random word values."""
    rnd = random.Random(seed)
    shapes = [
        "user {w} logged in from {ip} port {n}",
        "removing {w}",
        "job {n} finished in {f} seconds with status {w}",
        "{w} {w} {w}",
        "cache {w} miss for key {h}",
        "request {u} failed: {w}",
        "worker {w} started",
        "",
    ]
    words = ["alpha", "beta", "gamma", "delta", "root", "guest", "echo", "ok", "failed",
             "Jul", "KB"] + [f"w{i}x" for i in range(30)]
    out = []
    for _ in range(count):
        shape = rnd.choice(shapes)
        line = shape
        while "{" in line:
            line = (line.replace("{w}", rnd.choice(words), 1)
                    .replace("{ip}", ".".join(str(rnd.randint(0, 255)) for _ in range(4)), 1)
                    .replace("{n}", str(rnd.randint(0, 99999)), 1)
                    .replace("{f}", f"{rnd.random() * 100:.2f}", 1)
                    .replace("{h}", f"{rnd.getrandbits(64):016x}", 1)
                    .replace("{u}", f"/api/v{rnd.randint(1, 3)}/items/{rnd.randint(1, 999)}", 1))
        out.append(line)
    return out


@pytest.mark.parametrize("max_clusters", [5, 2000])
def test_fast_path_gives_the_slow_path_answers(max_clusters: int) -> None:
    """With the cache on, every match and the final state equal those with the cache off."""
    lines = _corpus(3, 4000)
    fast = TemplateMiner(TemplatesConfig(max_clusters=max_clusters))
    slow = TemplateMiner(TemplatesConfig(max_clusters=max_clusters, cache_size=0))
    fast_results: list[TemplateMatch] = [fast.match("svc", line) for line in lines]
    slow_results: list[TemplateMatch] = [slow.match("svc", line) for line in lines]
    assert fast_results == slow_results
    assert fast.snapshot() == slow.snapshot()


def test_fast_path_matches_slow_path_on_loghub(loghub_dir: Path) -> None:
    """On real logs (loghub-2k, when present beside the repo) fast and slow paths agree."""
    files = sorted(loghub_dir.glob("*/*_2k.log"))
    for path in files[:6]:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()[:1000]
        fast = TemplateMiner(TemplatesConfig())
        slow = TemplateMiner(TemplatesConfig(cache_size=0))
        assert [fast.match("s", x) for x in lines] == [slow.match("s", x) for x in lines], path


def test_drain3_ini_in_working_directory_is_ignored(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A drain3.ini in the working directory has no effect: config comes from canarywatch."""
    lines = _corpus(5, 300)
    reference = TemplateMiner(TemplatesConfig())
    expected = [reference.match("s", x) for x in lines]
    (tmp_path / "drain3.ini").write_text(
        "[DRAIN]\nsim_th = 0.01\ndepth = 3\n[MASKING]\n"
        'masking = [{"regex_pattern": ".+", "mask_with": "ALL"}]\n'
    )
    monkeypatch.chdir(tmp_path)
    miner = TemplateMiner(TemplatesConfig())
    assert [miner.match("s", x) for x in lines] == expected


def test_snapshot_is_plain_json_and_restores_exactly() -> None:
    """A snapshot survives json round-trip; the restored miner continues exactly alike."""
    lines = _corpus(11, 3000)
    original = TemplateMiner(TemplatesConfig(max_clusters=50))
    for line in lines[:1500]:
        original.match("a", line)
        original.match("b", line.upper())
    text = json.dumps(original.snapshot())
    restored = TemplateMiner(TemplatesConfig(max_clusters=50))
    restored.restore(json.loads(text))
    assert restored.template_count("a") == original.template_count("a")
    for line in lines[1500:]:
        assert restored.match("a", line) == original.match("a", line)
        assert restored.match("b", line.upper()) == original.match("b", line.upper())
    assert restored.snapshot() == original.snapshot()


def test_restore_refuses_bad_snapshots_and_keeps_state() -> None:
    """A malformed snapshot raises StateError naming the field; the miner is unchanged."""
    miner = TemplateMiner(TemplatesConfig())
    miner.match("svc", "cache warmed in 35 ms")
    good = miner.snapshot()
    broken = json.loads(json.dumps(good))
    broken["services"]["svc"]["clusters"][0][1] = "not a list"
    with pytest.raises(StateError, match=r"services\.svc\.clusters\[0\]"):
        miner.restore(broken)
    with pytest.raises(StateError, match="format"):
        miner.restore({"format": "drain3-jsonpickle", "services": {}})
    assert miner.snapshot() == good


def test_restore_refuses_a_snapshot_of_another_depth() -> None:
    """The prefix tree depends on depth, so a snapshot made with another depth is refused."""
    deep = TemplateMiner(TemplatesConfig(depth=6))
    deep.match("svc", "cache warmed in 35 ms")
    with pytest.raises(StateError, match="depth"):
        TemplateMiner(TemplatesConfig(depth=5)).restore(deep.snapshot())


def test_blank_line_after_its_template_was_evicted_and_restored() -> None:
    """A blank line still matches after its template was evicted and state restored."""
    miner = TemplateMiner(TemplatesConfig(max_clusters=1))
    first = miner.match("svc", "")
    miner.match("svc", "something else happened here")
    restored = TemplateMiner(TemplatesConfig(max_clusters=1))
    restored.restore(json.loads(json.dumps(miner.snapshot())))
    again = restored.match("svc", "")
    assert again.is_new_template and again.template == ""
    assert again.template_id > first.template_id


def test_parameters_of_several_words_end_in_one_template() -> None:
    """Lines that differ only in how many words a name spans share one template, whichever
    length came first; a word that introduces a name is not swallowed."""
    miner = TemplateMiner(TemplatesConfig())
    names = ["mary ann", "bob", "alice", "li wei", "carol", "dave", "erin", "jean paul",
             "frank", "gus", "hal", "ann marie smith"]
    ids = [miner.match("svc", f"Invalid user {name} from 10.0.0.{i} port 22").template_id
           for i, name in enumerate(names * 2)]
    live = {miner.canonical_id("svc", i) for i in ids}
    assert len(live) == 1
    other = miner.match("svc", "Invalid user invalid user x from 10.0.0.1 port 22")
    assert miner.canonical_id("svc", other.template_id) not in live


def test_fast_path_answers_for_stretched_parameters_follow_merges() -> None:
    """A cached variable-length answer is dropped when its template changes."""
    miner = TemplateMiner(TemplatesConfig())
    for name in ("bob", "alice", "carol", "dave", "erin", "frank"):
        miner.match("svc", f"Customer {name} placed order 7")
    first = miner.match("svc", "Customer mary ann placed order 7")
    again = miner.match("svc", "Customer mary ann placed order 7")
    assert first.template_id == again.template_id
    assert miner.canonical_id("svc", first.template_id) is not None

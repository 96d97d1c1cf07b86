"""The indexed leaf search answers as Drain3's full scan, and holds live clusters only."""

from __future__ import annotations

import random
from collections.abc import Sequence

from drain3.drain import Drain, LogCluster

from canarywatch.config import TemplatesConfig
from canarywatch.templates import TemplateMiner
from canarywatch.templates.drain_index import IndexedDrain


class _Checking(IndexedDrain):
    """Answers with the index and checks each answer against Drain3's own scan."""

    searches = 0
    pruned = 0  # searches where the index left out at least one cluster of the leaf

    def fast_match(self, cluster_ids: Sequence[int], tokens: Sequence[str], sim_th: float,
                   include_params: bool) -> LogCluster | None:
        mine = super().fast_match(cluster_ids, tokens, sim_th, include_params)
        theirs = Drain.fast_match(self, cluster_ids, tokens, sim_th, include_params)
        assert mine is theirs, (tokens, mine, theirs)
        type(self).searches += 1
        if len(cluster_ids) > 16:
            type(self).pruned += 1
        return mine  # type: ignore[no-any-return]


def _lines(rng: random.Random, n: int) -> list[str]:
    """Lines of 4-6 tokens from a small vocabulary (many shared tokens and ties) and random
    words (large leaves, clusters sharing nothing)."""
    vocab = ["GET", "PUT", "user", "order", "failed", "done", "timeout", "cache", "miss", "ok"]
    out = []
    for _ in range(n):
        size = rng.randint(4, 6)
        words = [rng.choice(vocab) if rng.random() < 0.6 else
                 "".join(rng.choice("abcdefgh") for _ in range(5)) for _ in range(size)]
        out.append(" ".join(words))
    return out


def test_indexed_search_equals_drain_scan() -> None:
    """Every leaf search of a miner fed varied lines (merging, eviction) gives Drain3's answer."""
    config = TemplatesConfig(max_clusters=300)
    miner = TemplateMiner(config)
    service = miner._service("svc")
    service.drain.__class__ = _Checking
    _Checking.searches = _Checking.pruned = 0
    for line in _lines(random.Random(7), 6000):
        miner.match("svc", line)
    assert _Checking.searches > 1000
    assert _Checking.pruned > 150  # the index path itself ran, on large leaves


def test_index_holds_live_clusters_only() -> None:
    """After evictions the index has one entry per live cluster token, none for evicted ones."""
    miner = TemplateMiner(TemplatesConfig(max_clusters=50))
    rng = random.Random(3)
    for _ in range(2000):
        miner.match("svc", " ".join("".join(rng.choice("xyzw") for _ in range(6))
                                    for _ in range(5)))
    service = miner._service("svc")
    drain = service.drain
    assert isinstance(drain, IndexedDrain)
    live = sum(sum(1 for t in drain.id_to_cluster[c].log_template_tokens if t != "<*>")
               for c in service.lru)
    assert len(service.lru) == 50
    assert drain.postings == live


def test_restored_miner_rebuilds_the_index() -> None:
    """A miner restored from a snapshot finds the same templates as the one it was saved from."""
    miner = TemplateMiner(TemplatesConfig(max_clusters=200))
    lines = _lines(random.Random(11), 1500)
    for line in lines[:1000]:
        miner.match("svc", line)
    restored = TemplateMiner(TemplatesConfig(max_clusters=200))
    restored.restore(miner.snapshot())
    for line in lines[1000:]:
        assert restored.match("svc", line) == miner.match("svc", line)


def _shape(node: object, live: set[int]) -> object:
    children = node.key_to_child_node  # type: ignore[attr-defined]
    return ([cid for cid in node.cluster_ids if cid in live],  # type: ignore[attr-defined]
            {token: _shape(child, live) for token, child in children.items()})


def test_prefix_tree_grows_as_drain3_grows_it() -> None:
    """Adding clusters (numbers, overflow past max_children, removals between adds) builds the
    tree Drain3 builds, with the same live ids in the same order in every leaf."""
    rng = random.Random(5)
    ours = IndexedDrain(depth=5, sim_th=0.8, max_children=6, param_str="<*>")
    theirs = Drain(depth=5, sim_th=0.8, max_children=6, param_str="<*>")
    for cid in range(1, 3000):
        tokens = [rng.choice(["a", "b", "c", "d", "e", "f", "g", "h", "x1", "y22"])
                  for _ in range(rng.randint(0, 5))]
        gone = rng.randint(1, cid) if rng.random() < 0.6 else 0
        for drain in (ours, theirs):
            cluster = LogCluster(list(tokens), cid)
            drain.id_to_cluster[cid] = cluster
            drain.add_seq_to_prefix_tree(drain.root_node, cluster)
            drain.id_to_cluster.pop(gone, None)
    live = set(theirs.id_to_cluster)
    assert set(ours.id_to_cluster) == live
    assert _shape(ours.root_node, live) == _shape(theirs.root_node, live)

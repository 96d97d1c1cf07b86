"""Plain-JSON snapshots of service miners, owned by canarywatch (never jsonpickle).

A snapshot holds what the miner cannot recompute: clusters (id, template tokens, count) in
least-recently-seen order, the id counter, merge aliases and Drain's prefix tree. Indexes
and caches are rebuilt on restore. Restoring checks every field and refuses a snapshot made
with another tree depth, since the tree's shape depends on it.
"""

from __future__ import annotations

from typing import Any

from drain3.drain import LogCluster, Node

from canarywatch.errors import StateError
from canarywatch.templates.service import ServiceMiner

FORMAT = "canarywatch.templates/1"


def dump_service(miner: ServiceMiner) -> dict[str, Any]:
    drain = miner.drain
    clusters = [
        [cid, list(drain.id_to_cluster[cid].log_template_tokens), miner.counts[cid]]
        for cid in miner.lru
    ]
    return {
        "depth": miner.settings.depth,
        "next_id": drain.clusters_counter,
        "clusters": clusters,
        "aliases": [[old, new] for old, new in miner.aliases.items()],
        "tree": _dump_node(drain.root_node, set(miner.lru)),
    }


def _dump_node(node: Node, live: set[int]) -> dict[str, Any]:
    return {
        "children": {token: _dump_node(child, live)
                     for token, child in node.key_to_child_node.items()},
        "clusters": [cid for cid in node.cluster_ids if cid in live],
    }


def load_service(miner: ServiceMiner, data: object, where: str) -> None:
    """Fill a fresh ``miner`` from ``data``; raises StateError naming what is wrong."""
    obj = _mapping(data, where)
    depth = _int(obj.get("depth"), f"{where}.depth")
    if depth != miner.settings.depth:
        raise StateError(f"{where}: made with templates.depth={depth}, "
                         f"configured {miner.settings.depth}")
    drain = miner.drain
    drain.clusters_counter = _int(obj.get("next_id"), f"{where}.next_id")
    raw_clusters = obj.get("clusters")
    if not isinstance(raw_clusters, list):
        raise StateError(f"{where}.clusters: must be a list")
    for i, item in enumerate(raw_clusters):
        spot = f"{where}.clusters[{i}]"
        if not isinstance(item, list) or len(item) != 3:
            raise StateError(f"{spot}: must be [id, tokens, count]")
        cid = _int(item[0], spot)
        tokens = item[1]
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise StateError(f"{spot}: tokens must be a list of strings")
        if cid > drain.clusters_counter or cid in drain.id_to_cluster:
            raise StateError(f"{spot}: id {cid} is duplicated or above next_id")
        drain.id_to_cluster[cid] = LogCluster(tokens, cid)
        miner.lru[cid] = None
        miner.counts[cid] = _int(item[2], spot)
    raw_aliases = obj.get("aliases")
    if not isinstance(raw_aliases, list):
        raise StateError(f"{where}.aliases: must be a list")
    for i, pair in enumerate(raw_aliases):
        if not isinstance(pair, list) or len(pair) != 2:
            raise StateError(f"{where}.aliases[{i}]: must be [old, new]")
        miner.aliases[_int(pair[0], f"{where}.aliases[{i}]")] = _int(pair[1],
                                                                     f"{where}.aliases[{i}]")
    dangling = [old for old, new in miner.aliases.items() if new not in miner.lru]
    if dangling:
        raise StateError(f"{where}.aliases: {dangling[0]} merged into a missing template")
    drain.root_node = _load_node(obj.get("tree"), f"{where}.tree", set(miner.lru))
    miner.rebuild_derived()


def _load_node(data: object, where: str, live: set[int]) -> Node:
    obj = _mapping(data, where)
    node = Node()
    children = _mapping(obj.get("children"), f"{where}.children")
    for token, child in children.items():
        node.key_to_child_node[token] = _load_node(child, f"{where}/{token}", live)
    ids = obj.get("clusters")
    if not isinstance(ids, list):
        raise StateError(f"{where}.clusters: must be a list")
    node.cluster_ids = [_int(cid, f"{where}.clusters") for cid in ids]
    if any(cid not in live for cid in node.cluster_ids):
        raise StateError(f"{where}.clusters: names a template that is not in the snapshot")
    return node


def _mapping(data: object, where: str) -> dict[str, Any]:
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise StateError(f"{where}: must be an object")
    return data


def _int(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise StateError(f"{where}: must be a non-negative integer")
    return value

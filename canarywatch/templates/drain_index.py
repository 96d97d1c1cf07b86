"""Drain's leaf search with a token index: the same answer, without comparing every cluster.

Drain3's ``fast_match`` compares a line with every cluster of its prefix-tree leaf. Lines
whose leading tokens vary (random words, ids Drain does not mask) all reach the same ``<*>``
leaf, so with ``templates.max_clusters`` clusters there each new line costs that many
comparisons (2,000 at the default: ~8 ms a line, a log flood of such lines crawls).

A cluster that shares no token at the same position with the line has similarity 0, below any
``sim_threshold`` (which is > 0), so it can never be the answer. :class:`IndexedDrain` keeps,
per (template length, position, token), the live clusters with that token there (``<*>``
excluded: Drain does not count it as similar) and compares the line only with the clusters
of the leaf that share a token with it, in the leaf's order, so ties break as in Drain3.
``tests/unit/templates/test_drain_index.py`` pins the equality with Drain3's search;
``benchmarks/bounded_state.py`` is the flood it makes affordable.

Adding a cluster to a leaf: Drain3 rebuilds the leaf's id list without the ids no longer
live each time, again a pass over every cluster there. Here the list is cleaned when its
length reaches a power of two (from 32), so it holds at most about twice its live clusters
and an add costs O(1) amortised; the search skips ids that are not live, as Drain3 does, so
the answers are the same.

The index follows the templates: :class:`~canarywatch.templates.service.ServiceMiner`
calls :meth:`IndexedDrain.index` / :meth:`IndexedDrain.unindex` wherever a cluster is
created, changes its template, merges or is evicted.
"""

from __future__ import annotations

from collections.abc import Sequence

from drain3.drain import Drain, LogCluster, Node

from canarywatch.templates.masking import WILDCARD

__all__ = ["IndexedDrain"]

# Leaves with at most this many clusters are searched as Drain3 does (the index costs more).
_SMALL_LEAF = 16
_Posting = tuple[int, int, str]  # (template length, position, token)


class IndexedDrain(Drain):  # type: ignore[misc]  # drain3 ships no type hints
    """``drain3.drain.Drain`` whose ``fast_match`` consults a token index (see module)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._postings: dict[_Posting, set[int]] = {}

    def index(self, cluster: LogCluster) -> None:
        """Record ``cluster``'s current template tokens (call after it is created or changed)."""
        tokens = cluster.log_template_tokens
        size = len(tokens)
        postings = self._postings
        for position, token in enumerate(tokens):
            if token != WILDCARD:
                postings.setdefault((size, position, token), set()).add(cluster.cluster_id)

    def unindex(self, cluster: LogCluster) -> None:
        """Forget ``cluster``'s current tokens (call before they change, or it leaves)."""
        tokens = cluster.log_template_tokens
        size = len(tokens)
        postings = self._postings
        for position, token in enumerate(tokens):
            if token == WILDCARD:
                continue
            key = (size, position, token)
            group = postings.get(key)
            if group is not None:
                group.discard(cluster.cluster_id)
                if not group:
                    del postings[key]

    def clear_index(self) -> None:
        self._postings.clear()

    @property
    def postings(self) -> int:
        """Entries of the index (one per live cluster and non-``<*>`` token)."""
        return sum(len(group) for group in self._postings.values())

    def add_seq_to_prefix_tree(self, root_node: Node, cluster: LogCluster) -> None:
        """Drain3's descent (by token count, then up to ``depth - 2`` leading tokens, numbers
        and overflow past ``max_children`` to ``<*>``), with the amortised clean-up above."""
        tokens = cluster.log_template_tokens
        size = len(tokens)
        node = root_node.key_to_child_node.get(str(size))
        if node is None:
            node = root_node.key_to_child_node[str(size)] = Node()
        if size == 0:
            node.cluster_ids = [cluster.cluster_id]
            return
        depth = 1
        for token in tokens:
            if depth >= self.max_node_depth or depth >= size:
                break
            node = self._child(node, token)
            depth += 1
        ids = node.cluster_ids
        ids.append(cluster.cluster_id)
        if len(ids) >= 32 and len(ids) & (len(ids) - 1) == 0:
            live = self.id_to_cluster
            node.cluster_ids = [cid for cid in ids if cid in live]

    def _child(self, node: Node, token: str) -> Node:
        """The child ``token`` leads to, created as Drain3 creates it."""
        children = node.key_to_child_node
        child = children.get(token)
        if child is not None:
            return child
        wildcard = self.param_str
        if self.parametrize_numeric_tokens and self.has_numbers(token):
            key = wildcard
        elif wildcard in children:
            key = token if len(children) < self.max_children else wildcard
        elif len(children) + 1 < self.max_children:
            key = token
        else:  # the last free place goes to <*>, and so does all that follows
            key = wildcard
        child = children.get(key)
        if child is None:
            child = children[key] = Node()
        return child

    def fast_match(self, cluster_ids: Sequence[int], tokens: Sequence[str], sim_th: float,
                   include_params: bool) -> LogCluster | None:
        if include_params or len(cluster_ids) <= _SMALL_LEAF or sim_th <= 0:
            return super().fast_match(cluster_ids, tokens, sim_th, include_params)
        size = len(tokens)
        postings = self._postings
        sharing: set[int] = set()
        for position, token in enumerate(tokens):
            group = postings.get((size, position, token))
            if group:
                sharing |= group
        if not sharing:
            return None  # every cluster of the leaf has similarity 0
        candidates = [cid for cid in cluster_ids if cid in sharing]
        result: LogCluster | None = super().fast_match(candidates, tokens, sim_th,
                                                       include_params)
        return result

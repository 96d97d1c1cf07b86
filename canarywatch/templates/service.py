"""One service's template miner: Drain3's prefix tree, with what the pipeline needs around it.

Around ``drain3.drain.Drain`` this adds: canarywatch's masking, a bound on clusters that
evicts the least recently seen one (ids are never reused), merging of clusters that differ
at one position only once enough different values were seen there (the position is a
parameter), and a fast path. The fast path remembers, per masked token sequence, the
cluster a lookup found without changing anything; the answer is reused only while no
cluster with that many tokens was created, changed, merged or evicted since, so it is
exactly what the slow path would answer.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from dataclasses import dataclass

from drain3.drain import LogCluster

from canarywatch.events import TemplateMatch
from canarywatch.templates.drain_index import IndexedDrain
from canarywatch.templates.masking import (
    CATEGORY_KEYS,
    PARAM,
    WILDCARD,
    Masker,
    template_text,
)

logger = logging.getLogger(__name__)

# A position is a parameter when merge_min_variants values were seen there in at most this
# many lines each so far (and such rare values are most of its values), with at least
# MIN_CONSTANTS other constant tokens in the template.
MAX_LINES_PER_VARIANT = 5
MIN_CONSTANTS = 1
# A <*> may span at most this many tokens more or fewer than its template has.
MAX_SPAN_EXTRA = 2
# Longer templates are not indexed for merging (the index costs tokens squared).
MAX_MERGE_TOKENS = 64
_Key = tuple[int, int, tuple[str, ...]]  # (token count, position, tokens with a hole there)


@dataclass(frozen=True, slots=True)
class MinerSettings:
    """The knobs of one service's miner, taken from ``TemplatesConfig``."""

    sim_threshold: float
    depth: int
    max_children: int
    max_clusters: int
    merge_min_variants: int
    merge_min_word_variants: int
    cache_size: int


class ServiceMiner:
    """Mines one service's lines; not thread-safe (one miner per service, one thread)."""

    def __init__(self, settings: MinerSettings, masker: Masker,
                 track_evictions: bool = False) -> None:
        self.settings = settings
        self._track_evictions = track_evictions
        self._masker = masker
        self.drain = IndexedDrain(
            depth=settings.depth,
            sim_th=settings.sim_threshold,
            max_children=settings.max_children,
            max_clusters=None,  # eviction is ours: least recently seen, ids never reused
            param_str=WILDCARD,
            parametrize_numeric_tokens=True,
        )
        self.lru: OrderedDict[int, None] = OrderedDict()
        self.counts: dict[int, int] = {}
        self.aliases: dict[int, int] = {}  # merged id -> the live id it was merged into
        self._aliased_by: dict[int, list[int]] = {}  # live id -> ids merged into it
        self._by_hole: dict[_Key, set[int]] = {}
        self._generation: dict[int, int] = {}  # token count -> changes seen
        self._cache: dict[tuple[str, ...], tuple[int, int]] = {}
        self._results: dict[int, TemplateMatch] = {}
        # Variable-length matching: templates with a <*>, by first token; and, per template
        # size, the line sizes whose cached answers are templates of that size.
        self._flexible: dict[str, set[int]] = {}
        self._flex_sizes: dict[int, set[int]] = {}
        self._by_first: dict[str, set[int]] = {}  # every template, by its first token
        # With track_evictions: (id, lines it matched) of each template evicted (and of each
        # id merged into it) since the last take_evicted(), for the analysis to forget them.
        self.evicted: list[tuple[int, int]] = []

    # ---- matching -----------------------------------------------------------------------

    def match(self, line: str) -> TemplateMatch:
        """Put ``line`` in a template (creating or generalising one) and say which."""
        tokens = self._masker.tokens(line)
        size = len(tokens)
        generation = self._generation.get(size, 0)
        hit = self._cache.get(tokens)
        if hit is not None and hit[1] == generation:
            cluster_id = hit[0]
            self.lru.move_to_end(cluster_id)
            self.counts[cluster_id] += 1
            return self._results[cluster_id]
        result = self._slow_match(tokens)
        template_size = len(self.drain.id_to_cluster[result.template_id].log_template_tokens)
        if template_size != size:
            # A variable-length match: a change of templates of the other size must also
            # drop this answer, so that size's changes count for this one too.
            self._flex_sizes.setdefault(template_size, set()).add(size)
        if self._generation.get(size, 0) == generation and self.settings.cache_size > 0:
            # Nothing changed: the same tokens will find the same cluster until something does.
            if len(self._cache) >= self.settings.cache_size:
                self._cache.clear()
            self._cache[tokens] = (result.template_id, generation)
        return result

    def _slow_match(self, tokens: tuple[str, ...]) -> TemplateMatch:
        drain = self.drain
        token_list = list(tokens)
        cluster: LogCluster | None
        if tokens:
            cluster = drain.tree_search(drain.root_node, token_list, drain.sim_th, False)
        else:  # Drain keeps the empty line's cluster apart; its list may be empty here
            node = drain.root_node.key_to_child_node.get("0")
            ids = [] if node is None else node.cluster_ids
            cluster = drain.id_to_cluster.get(ids[0]) if ids else None
        if cluster is not None and _differs_in_a_word(tokens, cluster.log_template_tokens):
            cluster = None  # a different event word is a different statement
        if cluster is None:
            cluster = self._merge_into_variants(tokens)
        if cluster is None:
            flex = self._flex_match(tokens)
            if flex is not None:
                self.lru.move_to_end(flex.cluster_id)
                self.counts[flex.cluster_id] += 1
                return self._results[flex.cluster_id]
        if cluster is None:
            return self._create(tokens)
        new_tokens = tuple(drain.create_template(token_list, cluster.log_template_tokens))
        if new_tokens != cluster.log_template_tokens:
            self._set_template(cluster, new_tokens)
        self.lru.move_to_end(cluster.cluster_id)
        self.counts[cluster.cluster_id] += 1
        return self._results[cluster.cluster_id]

    def _create(self, tokens: tuple[str, ...]) -> TemplateMatch:
        drain = self.drain
        drain.clusters_counter += 1
        cluster = LogCluster(list(tokens), drain.clusters_counter)
        drain.id_to_cluster[cluster.cluster_id] = cluster
        drain.add_seq_to_prefix_tree(drain.root_node, cluster)
        self.lru[cluster.cluster_id] = None
        self.counts[cluster.cluster_id] = 1
        self._index(cluster)
        self._bump(len(tokens))
        result = TemplateMatch(cluster.cluster_id, template_text(tokens), True)
        self._results[cluster.cluster_id] = TemplateMatch(result.template_id, result.template,
                                                          False)
        while len(self.lru) > self.settings.max_clusters:
            self._evict(next(iter(self.lru)))
        return result

    def _set_template(self, cluster: LogCluster, tokens: tuple[str, ...]) -> None:
        wider = tokens.count(WILDCARD) > cluster.log_template_tokens.count(WILDCARD)
        self._unindex(cluster)
        cluster.log_template_tokens = tokens
        self._index(cluster)
        self._bump(len(tokens))
        self._results[cluster.cluster_id] = TemplateMatch(
            cluster.cluster_id, template_text(tokens), False
        )
        if wider:
            self._absorb_longer(cluster)

    # ---- merging variants ---------------------------------------------------------------

    def _merge_into_variants(self, tokens: tuple[str, ...]) -> LogCluster | None:
        """Clusters equal to ``tokens`` but at one position, with enough values seen there."""
        size = len(tokens)
        if size > MAX_MERGE_TOKENS:
            return None
        for position in range(size):
            if tokens[position] == PARAM:
                continue
            group = self._by_hole.get((size, position, _hole(tokens, position)))
            if not group:
                continue
            clusters = [self.drain.id_to_cluster[i] for i in sorted(group)]
            known = any(c.log_template_tokens[position] == WILDCARD for c in clusters)
            if not known and not self._is_parameter(clusters, tokens, position):
                continue
            survivor = clusters[0]
            for other in clusters[1:]:
                self._absorb(survivor, other)
            generalised = list(survivor.log_template_tokens)
            generalised[position] = WILDCARD
            if tuple(generalised) != survivor.log_template_tokens:
                self._set_template(survivor, tuple(generalised))
                self.drain.add_seq_to_prefix_tree(self.drain.root_node, survivor)
                logger.debug("template %d generalised at position %d", survivor.cluster_id,
                             position)
            return survivor
        return None

    # ---- variable-length parameters ------------------------------------------------------

    def _flex_match(self, tokens: tuple[str, ...]) -> LogCluster | None:
        """A template of another length that ``tokens`` fits, a ``<*>`` spanning more or
        fewer tokens (``Invalid user mary ann from <*>`` in ``Invalid user <*> from <*>``)."""
        if not tokens or len(tokens) > MAX_MERGE_TOKENS:
            return None
        best: LogCluster | None = None
        for cluster_id in sorted(self._flexible.get(tokens[0], ())):
            cluster = self.drain.id_to_cluster[cluster_id]
            template = cluster.log_template_tokens
            if template != tokens and 0 < abs(len(template) - len(tokens)) <= MAX_SPAN_EXTRA \
                    and _fits(template, tokens):
                best = cluster
                break
        return best

    def _absorb_longer(self, survivor: LogCluster) -> None:
        """Templates of other lengths whose lines fit ``survivor`` now merge into it."""
        template = survivor.log_template_tokens
        if not template or len(template) > MAX_MERGE_TOKENS:
            return
        first = template[0]
        for cluster_id in sorted(self._by_first.get(first, ())):
            other = self.drain.id_to_cluster.get(cluster_id)
            if other is None or other is survivor:
                continue
            tokens = tuple(other.log_template_tokens)
            if tokens and tokens[0] == first and len(tokens) != len(template) \
                    and abs(len(tokens) - len(template)) <= MAX_SPAN_EXTRA \
                    and _fits(template, tokens):
                self._absorb(survivor, other)

    def _is_parameter(self, clusters: list[LogCluster], tokens: tuple[str, ...],
                      position: int) -> bool:
        """Many rare values at one position make it a parameter; a few common ones do not."""
        if _is_category(tokens[position]):
            return False
        rare = sum(1 for c in clusters if self.counts[c.cluster_id] <= MAX_LINES_PER_VARIANT)
        words = _is_word(_value_of(tokens[position])) and all(
            _is_word(_value_of(c.log_template_tokens[position])) for c in clusters)
        needed = self.settings.merge_min_word_variants if words \
            else self.settings.merge_min_variants
        if rare + 1 < needed:
            return False
        constants = sum(1 for i, t in enumerate(tokens)
                        if i != position and t not in (PARAM, WILDCARD))
        # Rare values must be most of the values seen: a few common event words stay words.
        return constants >= MIN_CONSTANTS and rare * 2 >= len(clusters)

    def _absorb(self, survivor: LogCluster, other: LogCluster) -> None:
        other_id = other.cluster_id
        self._unindex(other)
        del self.drain.id_to_cluster[other_id]
        self.lru.pop(other_id, None)
        self.counts[survivor.cluster_id] += self.counts.pop(other_id)
        self._results.pop(other_id, None)
        merged = self._aliased_by.setdefault(survivor.cluster_id, [])
        for old in [*self._aliased_by.pop(other_id, ()), other_id]:
            self.aliases[old] = survivor.cluster_id
            merged.append(old)
        self._bump(len(other.log_template_tokens))

    def _index(self, cluster: LogCluster) -> None:
        self.drain.index(cluster)
        tokens = cluster.log_template_tokens
        if tokens:
            self._by_first.setdefault(tokens[0], set()).add(cluster.cluster_id)
            if WILDCARD in tokens:
                self._flexible.setdefault(tokens[0], set()).add(cluster.cluster_id)
        if len(tokens) > MAX_MERGE_TOKENS:
            return
        for position in range(len(tokens)):
            key = (len(tokens), position, _hole(tokens, position))
            self._by_hole.setdefault(key, set()).add(cluster.cluster_id)

    def _unindex(self, cluster: LogCluster) -> None:
        self.drain.unindex(cluster)
        tokens = cluster.log_template_tokens
        if tokens:
            for index in (self._flexible, self._by_first):
                group = index.get(tokens[0])
                if group is not None:
                    group.discard(cluster.cluster_id)
                    if not group:
                        del index[tokens[0]]
        if len(tokens) > MAX_MERGE_TOKENS:
            return
        for position in range(len(tokens)):
            key = (len(tokens), position, _hole(tokens, position))
            group = self._by_hole.get(key)
            if group is not None:
                group.discard(cluster.cluster_id)
                if not group:
                    del self._by_hole[key]

    # ---- bookkeeping --------------------------------------------------------------------

    def _evict(self, cluster_id: int) -> None:
        cluster = self.drain.id_to_cluster.pop(cluster_id)
        self._unindex(cluster)
        del self.lru[cluster_id]
        lines = self.counts.pop(cluster_id)
        del self._results[cluster_id]
        self._bump(len(cluster.log_template_tokens))
        merged = self._aliased_by.pop(cluster_id, ())
        # Ids merged into an evicted template point nowhere now.
        for old in merged:
            del self.aliases[old]
        if self._track_evictions:
            self.evicted.append((cluster_id, lines))
            self.evicted.extend((old, 0) for old in merged)
        logger.debug("evicted template %d (least recently seen)", cluster_id)

    def _bump(self, size: int) -> None:
        self._generation[size] = self._generation.get(size, 0) + 1
        for other in self._flex_sizes.get(size, ()):
            self._generation[other] = self._generation.get(other, 0) + 1

    def resolve(self, template_id: int) -> int | None:
        """The live id ``template_id`` now stands for (itself, or what it merged into)."""
        template_id = self.aliases.get(template_id, template_id)
        return template_id if template_id in self.drain.id_to_cluster else None

    def template_tokens(self, template_id: int) -> tuple[str, ...] | None:
        live = self.resolve(template_id)
        if live is None:
            return None
        tokens: tuple[str, ...] = self.drain.id_to_cluster[live].log_template_tokens
        return tokens

    def rebuild_derived(self) -> None:
        """Recompute index, results and caches from clusters (after a restore)."""
        self._by_hole.clear()
        self.drain.clear_index()
        self._flexible.clear()
        self._by_first.clear()
        self._flex_sizes.clear()
        self._cache.clear()
        self._results.clear()
        self._generation.clear()
        self._aliased_by.clear()
        for old, new in self.aliases.items():
            self._aliased_by.setdefault(new, []).append(old)
        for cluster in self.drain.id_to_cluster.values():
            self._index(cluster)
            self._results[cluster.cluster_id] = TemplateMatch(
                cluster.cluster_id, template_text(cluster.log_template_tokens), False
            )


def _is_word(token: str) -> bool:
    """A plain word (letters and ``_`` only, perhaps with punctuation around), alone or as
    the value of ``key=value``, or a qualified class name: ``Started``, ``disk:``,
    ``cmd=get_table``, ``java.net.ConnectException:``."""
    word = token.strip(_WORD_PUNCT)
    if "=" in word:
        word = word.partition("=")[2].strip(_WORD_PUNCT)
    return word.replace("_", "").isalpha() or _CLASS_NAME.fullmatch(word) is not None


_CLASS_NAME = re.compile(r"(?:[a-z_][\w$]*\.)+[A-Z][\w$]*")


def _is_category(token: str) -> bool:
    """``key=value`` whose key names a category (``reason=``, ``cmd=``, ``status=``): its
    values are the statement's event words, never a parameter."""
    key, eq, value = token.partition("=")
    return bool(eq) and PARAM not in value and \
        key.strip(_WORD_PUNCT).lower().rpartition(".")[2] in CATEGORY_KEYS


_WORD_PUNCT = "()[]{},;:.'\"!?"
# Words after which a plain word is a name, not an event: ``for user cyrus``.
_NAMES_NEXT = frozenset((
    "user", "users", "username", "account", "login", "uid", "host", "hostname", "node", "pod",
    "container", "namespace", "file", "table", "database", "db", "group", "role", "tenant",
    "project"
))


def _names_next(token: str) -> bool:
    """Whether the word after ``token`` is a name: ``user``, ``for user``, ``get_database:``."""
    bare = token.strip(_WORD_PUNCT).lower()
    return re.split(r"[=_.]", bare)[-1] in _NAMES_NEXT


def _value_of(token: str) -> str:
    """The value of a ``key=value`` token, else the token."""
    return token.partition("=")[2] or token


def _differs_in_a_word(tokens: tuple[str, ...], template: tuple[str, ...]) -> bool:
    """Whether ``tokens`` has another plain word where ``template`` has a plain word.

    Drain would make such a position a parameter at the first difference; canarywatch leaves
    that to variant merging, which needs many rarely seen values there. So ``VM Started`` and
    ``VM Paused`` stay two templates, while user names still become a parameter.
    """
    previous = ""
    for mine, theirs in zip(tokens, template, strict=False):
        if theirs not in (mine, WILDCARD) and _is_word(mine) and _is_word(theirs) \
                and not _names_next(previous):
            return True
        previous = theirs
    return False


def _same(theirs: str, mine: str) -> bool:
    return theirs in (mine, WILDCARD)


def _fits(template: tuple[str, ...], tokens: tuple[str, ...]) -> bool:
    """Whether ``tokens`` equals ``template`` with one run of parameters spanning another
    number (at least one) of plain words or parameters; other parameters stand for one
    token each.

    Needs at least two constant tokens in the template, so a bare ``<*> <*>`` fits nothing.
    """
    if sum(1 for t in template if t not in _PARAMS) < 2:
        return False
    extra = len(tokens) - len(template)
    i = 0
    while i < len(template):
        token = template[i]
        if token not in _PARAMS:
            if i >= len(tokens) or not _same(token, tokens[i]):
                return False
            i += 1
            continue
        end = i
        while end < len(template) and template[end] in _PARAMS:
            end += 1
        if end - i + extra >= 1:
            tail, rest = template[end:], tokens[end + extra:]
            # Only plain words (and parameters) may stretch a parameter, as a name of several
            # words does; other tokens are structure, like a further ``key=value``, and so
            # is a word that introduces a name (``invalid user <*>``).
            if len(tail) == len(rest) and all(map(_same, tail, rest)) and all(
                    t == PARAM or (_is_word(t) and not _names_next(t))
                    for t in tokens[i:end + extra]):
                return True
        if end > len(tokens) or not all(map(_same, template[i:end], tokens[i:end])):
            return False
        i = end
    return False


_PARAMS = (WILDCARD, PARAM)


def _hole(tokens: tuple[str, ...], position: int) -> tuple[str, ...]:
    return tokens[:position] + tokens[position + 1:]

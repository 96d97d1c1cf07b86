"""Decoders by name and by payload kind, and :class:`Decoders`, the one the pipeline calls."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from canarywatch.config import Config
from canarywatch.decode.base import Decoder
from canarywatch.decode.batch import DecodedBatch, batch_of
from canarywatch.decode.lines import JsonLineDecoder, TextLineDecoder
from canarywatch.decode.otlp import OtlpDecoder
from canarywatch.errors import ConfigError, DecodeError
from canarywatch.events import Event, LogEvent
from canarywatch.rejects import RejectTally
from canarywatch.sources.base import PayloadKind, Record

log = logging.getLogger(__name__)

DecoderFactory = Callable[[Config], Decoder]

# Plug-in names (as ``kafka.extra_log_topics[].format`` and file kinds name them).
DECODERS: dict[str, DecoderFactory] = {
    "otlp": lambda config: OtlpDecoder(config.cohorts.version_keys,
                                       count_group_ns=config.analysis.evaluation_interval_ns,
                                       path_rules=config.analysis.endpoint_path_rules),
    "json": lambda config: JsonLineDecoder.from_config(config.logs),
    "text": lambda config: TextLineDecoder.from_config(config.logs),
}

_BY_KIND: dict[PayloadKind, str] = {
    PayloadKind.OTLP_SPANS: "otlp",
    PayloadKind.OTLP_LOGS: "otlp",
    PayloadKind.OTLP_ANY: "otlp",
    PayloadKind.LOG_JSON: "json",
    PayloadKind.LOG_TEXT: "text",
}


def decoder_named(name: str, config: Config, key: str = "decoder") -> Decoder:
    """The decoder plug-in called ``name``; ConfigError naming ``key`` when there is none."""
    factory = DECODERS.get(name)
    if factory is None:
        raise ConfigError(key, f"unknown decoder {name!r}; valid: {', '.join(sorted(DECODERS))}")
    return factory(config)


def decoder_for(kind: PayloadKind, config: Config) -> Decoder:
    """A new decoder for records of ``kind``."""
    return decoder_named(_BY_KIND[kind], config)


class Decoders:
    """Decodes any record with the decoder its kind needs; counts what came out and what not.

    One OTLP decoder serves all OTLP kinds (it caches resources and endpoint names); line
    decoders are made on first use. ``overrides`` replaces the decoder for a record origin
    prefix, e.g. an extra log topic with its own field mapping.
    """

    def __init__(self, config: Config,
                 overrides: Sequence[tuple[str, Decoder]] = (),
                 rejects: RejectTally | None = None) -> None:
        """``rejects`` counts every refused record and event by reason (a new tally if
        None); the OTLP decoder adds the spans and log records it leaves out."""
        self._config = config
        self.rejects = rejects if rejects is not None else RejectTally()
        self._by_name: dict[str, Decoder] = {}
        self._overrides = tuple(overrides)
        self.spans = 0
        self.logs = 0
        self.rejected = 0

    def _decoder(self, record: Record) -> Decoder:
        for prefix, decoder in self._overrides:
            if record.origin.startswith(prefix):
                return decoder
        name = _BY_KIND[record.kind]
        found = self._by_name.get(name)
        if found is None:
            found = self._by_name[name] = decoder_named(name, self._config)
            if isinstance(found, OtlpDecoder):
                found.share_rejects(self.rejects)
        return found

    def decode(self, record: Record) -> Sequence[Event]:
        """The events in ``record``; raises DecodeError (with ``record.origin``) if malformed.

        Spans and log records left out of a readable record (impossible times, malformed
        fields) are counted in :attr:`rejects`, not raised."""
        if record.error is not None:
            raise DecodeError(record.origin, record.error, record.reason)
        events = self._decoder(record).decode(record)
        if events and isinstance(events[0], LogEvent):  # a record holds one kind of event
            self.logs += len(events)
        else:
            self.spans += len(events)
        return events

    def decode_batch(self, record: Record) -> DecodedBatch:
        """Like :meth:`decode`, as a batch in which the OTLP decoder only counts the spans
        analysis does not read (see :mod:`canarywatch.decode.batch`)."""
        if record.error is not None:
            raise DecodeError(record.origin, record.error, record.reason)
        decoder = self._decoder(record)
        if isinstance(decoder, OtlpDecoder):
            batch = decoder.decode_batch(record)
        else:
            batch = batch_of(decoder.decode(record))
        if batch.spans:
            self.spans += batch.items
        else:
            self.logs += batch.items
        return batch

    def decode_or_skip(self, record: Record) -> Sequence[Event]:
        """Like :meth:`decode`, but a malformed record is counted, logged and skipped."""
        try:
            return self.decode(record)
        except DecodeError as exc:
            self.rejected += 1
            self.rejects.reject(exc.origin, exc.reason, exc.message)
            return ()

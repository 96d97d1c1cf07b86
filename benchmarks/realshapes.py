"""The "real shapes" template benchmark set: log shapes production services write, with ground
truth by construction.

Each generator writes records of one shape (``records(rng, n)`` -> ``[(label, record)]``); the
label names the statement that wrote the record (its message template, event word or
exception chain), chosen before any text is formed, so the truth does not depend on the code
under test. Parameters are drawn the way they vary in real logs: ids, numbers, addresses and
times always; user, host and file names from large pools (some of several words); event
words, operations and results from the small sets their programs use. Shapes after public
formats: zap/pino JSON, logfmt (go-kit, heroku), RFC 3164/5424 syslog, logback with Java stack
traces, pipe/comma/semicolon-delimited records, Hive metastore audit and Linux auditd lines,
klog (Kubernetes components), sshd, OpenStack nova lifecycle events.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable

Record = tuple[str, str]  # (label, record text; a stack trace spans several lines)

FIRST = [
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "xavier", "yusuf",
    "zoe"
]
LAST = [
    "smith", "jones", "garcia", "miller", "davis", "lopez", "wilson", "anderson", "thomas",
    "moore", "martin", "lee"
]
HOSTS = [f"{p}-{n}" for p in ("web", "db", "cache", "api", "worker") for n in range(1, 9)]
PATHS = ["/api/orders", "/api/cart", "/api/users/{id}", "/healthz", "/api/payments",
         "/api/search", "/login", "/static/app.js"]
PROCESSES = ["java", "python3", "node", "postgres", "mysqld", "chrome", "ruby", "php-fpm",
             "redis-server", "nginx", "dotnet", "beam.smp", "gunicorn", "elasticsearch"]
SERVICES = ["checkout", "payments", "inventory", "search", "gateway"]


def _ip(rng: random.Random) -> str:
    return f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def _ts(rng: random.Random, i: int) -> str:
    return f"2026-11-18T10:{i // 60 % 60:02d}:{i % 60:02d}.{rng.randint(0, 999):03d}Z"


def _user(rng: random.Random, words: int = 1) -> str:
    return " ".join([rng.choice(FIRST)] + [rng.choice(LAST) for _ in range(words - 1)])


def _path(rng: random.Random) -> str:
    return rng.choice(PATHS).replace("{id}", str(rng.randint(1, 9999)))


def json_lines(rng: random.Random, n: int) -> list[Record]:
    statements: list[tuple[str, str, Callable[[], dict[str, object]]]] = [
        ("info", "HTTP request", lambda: {"method": rng.choice(["GET", "POST"]),
                                          "path": _path(rng), "status": 200,
                                          "duration_ms": rng.randint(1, 900)}),
        ("error", "database connection refused", lambda: {"host": rng.choice(HOSTS),
                                                          "port": 5432,
                                                          "attempt": rng.randint(1, 5)}),
        ("info", "user logged in", lambda: {"user": _user(rng),
                                            "session": f"{rng.getrandbits(32):08x}"}),
        ("warn", "slow query", lambda: {"table": rng.choice(["orders", "users", "items"]),
                                        "elapsed_ms": rng.randint(500, 9000)}),
        ("info", "cache miss", lambda: {"key": f"cart:{rng.randint(1, 99999)}"}),
        ("error", "payment declined", lambda: {"user": _user(rng), "amount": rng.randint(1, 500),
                                               "reason": rng.choice(["insufficient_funds",
                                                                     "expired_card"])}),
        ("info", "order placed", lambda: {"order_id": rng.randint(1, 10**6),
                                          "items": rng.randint(1, 9)}),
        ("debug", "token refreshed", lambda: {"client": rng.choice(HOSTS)}),
        ("error", "upstream timeout", lambda: {"upstream": rng.choice(SERVICES),
                                               "timeout_ms": 3000}),
        ("info", "job finished", lambda: {"job": rng.choice(["reindex", "cleanup", "export"]),
                                          "took": f"{rng.random() * 9:.2f}s"}),
    ]
    out: list[Record] = []
    for i in range(n):
        level, msg, fields = rng.choice(statements)
        obj = {"level": level, "ts": _ts(rng, i), "caller": f"server/h.go:{rng.randint(10, 400)}",
               "msg": msg, **fields()}
        out.append((msg, json.dumps(obj, separators=(",", ":"))))
    return out


def logfmt(rng: random.Random, n: int) -> list[Record]:
    statements: list[tuple[str, str, Callable[[], str]]] = [
        ("info", "request served", lambda: f"method=GET path={_path(rng)} status=200 "
                                           f"duration={rng.randint(1, 900)}ms"),
        ("error", "could not reach broker", lambda: f"broker={rng.choice(HOSTS)}:9092 "
                                                    f"err=\"dial tcp {_ip(rng)}:9092: "
                                                    f"connection refused\""),
        ("info", "consumer group rebalanced", lambda: f"group=orders "
                                                      f"members={rng.randint(1, 9)}"),
        ("warn", "retrying", lambda: f"attempt={rng.randint(1, 5)} backoff={rng.randint(1, 9)}s"),
        ("info", "config reloaded", lambda: f"file=/etc/app/{rng.choice(['a', 'b'])}.yaml"),
        ("info", "user signed up", lambda: f"user={rng.choice(FIRST)} plan=free"),
        ("error", "webhook delivery failed", lambda: f"url=https://hooks.example.com/"
                                                     f"{rng.randint(1, 999)} status=503"),
        ("debug", "gc pause", lambda: f"pause={rng.random():.3f}ms heap={rng.randint(10, 900)}MB"),
    ]
    out: list[Record] = []
    for i in range(n):
        level, msg, rest = rng.choice(statements)
        out.append((msg, f"time={_ts(rng, i)} level={level} msg=\"{msg}\" {rest()}"))
    return out


def syslog(rng: random.Random, n: int) -> list[Record]:
    months = ["Oct", "Nov"]

    def head() -> str:
        return (f"<{rng.randint(10, 190)}>{rng.choice(months)} {rng.randint(1, 28):2d} "
                f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d} "
                f"{rng.choice(HOSTS)}")

    statements: list[tuple[str, Callable[[], str]]] = [
        ("sshd accepted", lambda: f"sshd[{rng.randint(100, 65000)}]: Accepted password for "
                                  f"{_user(rng)} from {_ip(rng)} port {rng.randint(1024, 65000)} "
                                  "ssh2"),
        ("sshd failed", lambda: f"sshd[{rng.randint(100, 65000)}]: Failed password for "
                                f"{_user(rng)} from {_ip(rng)} port {rng.randint(1024, 65000)} "
                                "ssh2"),
        ("cron cmd", lambda: f"CRON[{rng.randint(100, 65000)}]: ({rng.choice(FIRST)}) CMD "
                             f"(/usr/local/bin/{rng.choice(['backup', 'rotate', 'sync'])}.sh)"),
        ("systemd session", lambda: f"systemd[1]: Started Session {rng.randint(1, 999)} of user "
                                    f"{rng.choice(FIRST)}."),
        ("kernel oom", lambda: f"kernel: [{rng.randint(1, 99999)}.{rng.randint(0, 999999)}] Out "
                               f"of memory: Killed process {rng.randint(100, 65000)} "
                               f"({rng.choice(PROCESSES)})"),
        ("dhclient bound", lambda: f"dhclient[{rng.randint(100, 9999)}]: bound to {_ip(rng)} -- "
                                   f"renewal in {rng.randint(100, 9999)} seconds."),
        ("rfc5424 app", lambda: f"app {rng.randint(100, 9999)} ID47 - payment "
                                f"{rng.randint(1, 99999)} settled"),
    ]
    out: list[Record] = []
    for _ in range(n):
        label, body = rng.choice(statements)
        out.append((label, f"{head()} {body()}"))
    return out


_APP_FRAMES = ["com.shop.cart.CartService.loadPrices(CartService.java:{n})",
               "com.shop.pricing.PriceClient.fetch(PriceClient.java:{n})",
               "com.shop.cart.CartController.get(CartController.java:{n})",
               "com.shop.orders.OrderRepository.save(OrderRepository.java:{n})"]
_LIB_FRAMES = [
    "org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:{n})",
    "org.apache.catalina.core.ApplicationFilterChain.doFilter("
    "ApplicationFilterChain.java:{n})",
    "java.base/java.lang.Thread.run(Thread.java:{n})",
    "okhttp3.internal.connection.RealCall.execute(RealCall.kt:{n})",
    "io.netty.channel.AbstractChannelHandlerContext.invokeChannelRead("
    "AbstractChannelHandlerContext.java:{n})",
]
# (header message, exception, its message, innermost cause and its message): the identity.
_ERRORS = [
    ("Request processing failed", "java.net.SocketTimeoutException", "Read timed out", None),
    ("Could not save order", "org.springframework.dao.DataIntegrityViolationException",
     "could not execute statement",
     ("org.postgresql.util.PSQLException", "ERROR: duplicate key value violates unique "
                                           "constraint \"orders_pkey\"")),
    ("Price lookup failed", "java.lang.IllegalStateException", "price list {n} is not loaded",
     None),
    ("Request processing failed", "java.lang.NullPointerException", None, None),
    ("Could not save order", "org.springframework.dao.DataIntegrityViolationException",
     "could not execute statement",
     ("java.net.ConnectException", "Connection refused to {ip}:5432")),
]


def java_traces(rng: random.Random, n: int) -> list[Record]:
    out: list[Record] = []
    for i in range(n):
        thread = f"http-nio-8080-exec-{rng.randint(1, 40)}"
        if rng.random() < 0.4:
            out.append(("info completed", f"{_ts(rng, i)} INFO  [{thread}] c.s.c.CartController "
                                          f"- GET /cart completed in {rng.randint(1, 99)} ms"))
            continue
        header, exc, message, cause = rng.choice(_ERRORS)
        text = exc if message is None else f"{exc}: {message.format(n=rng.randint(1, 99))}"
        lines = [f"{_ts(rng, i)} ERROR [{thread}] c.s.c.CartController - {header}", text]
        frames = rng.sample(_APP_FRAMES, rng.randint(1, 3)) + rng.sample(_LIB_FRAMES,
                                                                           rng.randint(1, 4))
        lines += [f"\tat {f.format(n=rng.randint(20, 900))}" for f in frames]
        if cause is not None:
            lines.append(f"Caused by: {cause[0]}: {cause[1].format(ip=_ip(rng))}")
            lines += [f"\tat {f.format(n=rng.randint(20, 900))}"
                      for f in rng.sample(_LIB_FRAMES, rng.randint(1, 3))]
        lines.append(f"\t... {rng.randint(5, 80)} more")
        out.append((f"{header}|{exc}|{message}|{cause}", "\n".join(lines)))
    return out


def delimited(rng: random.Random, n: int) -> list[Record]:
    out: list[Record] = []
    for i in range(n):
        kind = rng.randrange(3)
        if kind == 0:
            event = rng.choice(["CHARGE", "REFUND", "VOID"])
            result = rng.choice(["OK", "DECLINED"])
            out.append((f"pipe {event} {result}",
                        f"{_ts(rng, i)}|payments|{event}|{result}|{rng.choice(FIRST)}|"
                        f"{rng.randint(1, 999)}.{rng.randint(0, 99):02d}|EUR"))
        elif kind == 1:
            action = rng.choice(["upload", "download", "delete"])
            out.append((f"csv {action}", f"{_ts(rng, i)},{rng.choice(HOSTS)},{action},"
                                         f"{rng.choice(FIRST)},{rng.randint(1, 10**6)}"))
        else:
            state = rng.choice(["queued", "sent", "bounced"])
            out.append((f"semi {state}", f"{_ts(rng, i)};mailer;{state};"
                                         f"{rng.choice(FIRST)}@example.com;{rng.randint(1, 99)}"))
    return out


def kv_audit(rng: random.Random, n: int) -> list[Record]:
    cmds = ["get_table", "drop_table", "get_all_databases", "create_table", "alter_table"]
    ops = [("USER_LOGIN", "login"), ("USER_AUTH", "PAM:authentication"),
           ("CRED_ACQ", "PAM:setcred")]
    out: list[Record] = []
    for i in range(n):
        if rng.random() < 0.5:
            cmd = rng.choice(cmds)
            tbl = f" : db={rng.choice(['default', 'sales'])} " \
                f"tbl={rng.choice(['orders', 'items'])}" \
                if cmd.endswith("table") else ""
            out.append((f"hive {cmd}", f"18/02/27 09:{i // 60 % 60:02d}:{i % 60:02d} INFO audit: "
                                       f"ugi={rng.choice(FIRST)}\tip={_ip(rng)}\tcmd={cmd}{tbl}\t"))
        else:
            kind, op = rng.choice(ops)
            res = rng.choice(["success", "failed"])
            out.append((f"audit {kind} {res}",
                        f"type={kind} msg=audit({1700000000 + i}.{rng.randint(0, 999)}:"
                        f"{rng.randint(1, 9999)}): pid={rng.randint(100, 65000)} uid=0 "
                        f"auid={rng.randint(1000, 1010)} ses={rng.randint(1, 99)} msg='op={op} "
                        f"acct=\"{rng.choice(FIRST)}\" exe=\"/usr/sbin/sshd\" hostname=? "
                        f"addr={_ip(rng)} terminal=ssh res={res}'"))
    return out


def kubernetes(rng: random.Random, n: int) -> list[Record]:
    reasons = [("Normal", "Scheduled"), ("Normal", "Pulled"), ("Normal", "Created"),
               ("Normal", "Started"), ("Warning", "BackOff"), ("Warning", "Unhealthy"),
               ("Normal", "Killing")]
    out: list[Record] = []
    for _ in range(n):
        head = (f"{rng.choice('IWE')}1118 10:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}."
                f"{rng.randint(0, 999999):06d}       1 ")
        pod = f"{rng.choice(SERVICES)}-{rng.getrandbits(20):05x}-{rng.getrandbits(20):05x}"
        kind = rng.randrange(4)
        if kind == 0:
            etype, reason = rng.choice(reasons)
            out.append((f"event {reason}", f"{head}event.go:294] \"Event occurred\" "
                                           f"object=\"default/{pod}\" kind=\"Pod\" "
                                           f"type=\"{etype}\" reason=\"{reason}\""))
        elif kind == 1:
            out.append(("reconcile", f"{head}controller.go:{rng.randint(100, 300)}] "
                                     f"\"Reconciling\" "
                                     f"deployment=\"default/{rng.choice(SERVICES)}\""
                                     f" generation={rng.randint(1, 99)}"))
        elif kind == 2:
            out.append(("probe failed", f"{head}prober.go:107] \"Probe failed\" probeType="
                                        f"\"Readiness\" pod=\"default/{pod}\" "
                                        f"output=\"HTTP probe failed with statuscode: 503\""))
        else:
            out.append(("sync pod", f"{head}kubelet.go:2431] \"SyncLoop UPDATE\" source=\"api\" "
                                    f"pods=[\"default/{pod}\"]"))
    return out


def multi_word(rng: random.Random, n: int) -> list[Record]:
    statements: list[tuple[str, Callable[[], str]]] = [
        ("invalid user", lambda: f"Invalid user {_user(rng, rng.randint(1, 3))} from {_ip(rng)} "
                                 f"port {rng.randint(1024, 65000)}"),
        ("customer order", lambda: f"Customer {_user(rng, rng.randint(1, 3))} placed order "
                                   f"{rng.randint(1, 10**6)}"),
        ("uploaded", lambda: "Uploaded file "
                             f"{rng.choice(['report', 'Quarterly Report', 'final draft v'])}"
                             f"{rng.randint(1, 9)}.pdf to bucket "
                             f"{rng.choice(['reports', 'media'])}"),
        ("assigned", lambda: f"Ticket {rng.randint(1, 9999)} assigned to "
                             f"{_user(rng, rng.randint(1, 3))}"),
    ]
    return [(label, body()) for label, body in (rng.choice(statements) for _ in range(n))]


def event_words(rng: random.Random, n: int) -> list[Record]:
    statements: list[tuple[str, Callable[[str], str], list[str]]] = [
        ("vm", lambda w: f"[instance: {rng.getrandbits(64):016x}] VM {w} (Lifecycle Event)",
         ["Started", "Paused", "Resumed", "Stopped"]),
        ("container", lambda w: f"pod {rng.choice(SERVICES)}-{rng.randint(1, 9)}: {w}",
         ["ContainerStarted", "ContainerDied", "ContainerCreated"]),
        ("job", lambda w: f"Job {rng.randint(1, 99999)} {w}",
         ["SUCCEEDED", "FAILED", "RUNNING", "CANCELLED"]),
        ("zk state", lambda w: f"connection state changed to {w}",
         ["CONNECTED", "SUSPENDED", "RECONNECTED", "LOST"]),
    ]
    out: list[Record] = []
    for _ in range(n):
        label, make, words = rng.choice(statements)
        word = rng.choice(words)
        out.append((f"{label} {word}", make(word)))
    return out


SETS: dict[str, Callable[[random.Random, int], list[Record]]] = {
    "JSON lines": json_lines, "logfmt": logfmt, "syslog": syslog, "Java traces": java_traces,
    "delimited": delimited, "kv audit": kv_audit, "Kubernetes": kubernetes,
    "multi-word": multi_word, "event words": event_words,
}


def generate(name: str, seed: int, n: int = 400) -> list[Record]:
    """``n`` records of set ``name``, the same for the same seed."""
    return SETS[name](random.Random(f"{name}:{seed}"), n)

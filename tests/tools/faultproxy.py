#!/usr/bin/env python3
"""A fault-injecting HTTP/1.1 proxy for the S3 tests (standard library only).

It listens on 127.0.0.1:PORT, forwards every request to the upstream S3 server (moto)
and, when a rule says so, injects a fault instead. Every request is logged as one JSON
line (method, target, path, query, headers as sent, body size and head, what was done).

    faultproxy.py --port P --upstream http://127.0.0.1:M --log requests.jsonl
                  [--control control.json] [--rules JSON] [--ready-file F]
                  [--refuse-seconds S] [--refuse-mode unbound|close]
                  [--idle-timeout SECONDS]

Rules (a JSON list, from --rules and/or the control file's "rules"; the control file is
read again before each request, so a test changes phases by rewriting it; when the
rules change, their counters start over). Each rule:

    filters  "methods": ["PUT"], "path_regex": "...", "query_regex": "...",
             "header": ["expect", "100-continue"], "min_body": bytes
    trigger  (n = 1, 2, ...: the requests the rule counted, see below)
             "every": N       fires when n % N == 0
             "fraction": F    fires with probability F ("seed": S makes it repeatable)
             "first": K       fires for n <= K
             "after": K       fires for n > K
             (none of these: fires for every request that passes the filters)
             "limit": L       fires at most L times
             "target_limit": T  fires at most T times for one method + target (a request
                      and its retries): with T below the client's attempts, the fault
                      can never exhaust them, however concurrent requests interleave
    action   "error"  answer "status" (503) with an S3 <Error> of "code" (SlowDown for
                      503, InternalError for 500) and "message"; the body of a request
                      that waits for 100-continue is never read (the connection is closed
                      after the answer, as S3 does)
             "cut"    read "cut_after" bytes of the body (default: half of it), then
                      close the connection (RST): a connection cut mid-body
             "stall"  never answer: hold the connection (reading and dropping whatever
                      comes) until the client gives up or "stall_seconds" pass
             "slow"   forward, then send the answer at "rate" bytes/s (default 8): slower
                      than any sane low-speed limit
             "slow_body"  read the request body at "rate" bytes/s (default 4 MiB/s), in
                      pieces of "piece" bytes (default 64 KiB), with a small receive buffer,
                      then forward it: a client whose upload takes a while (a reader of the
                      file that has time to see it change). A body that stops coming is
                      logged "incomplete". With "continue_delay": S, a client that waits for
                      100-continue gets it S seconds late (curl sends the body after 1 s
                      anyway)
             "delay"  read the whole body (answering 100-continue), hold the request for
                      "seconds" (default 5), then forward it and pass the answer back:
                      a server that takes long to answer (a CompleteMultipartUpload
                      that takes 25 s); logged with "delay_seconds"
             "flip"   forward, then pass a 2xx answer back with one byte of its body
                      inverted (at "offset", default the middle): bytes damaged on the
                      way that no TCP checksum caught; logged with "flipped_at"
             "drop_answer"  forward the request and read upstream's whole answer, then
                      close the client connection without sending any of it: the server
                      did the work, the client never hears. "close": "fin" (default: an
                      orderly close, the client reads end of file) or "reset" (RST).
                      Logged with upstream's "status"
    Rules are tried in order; a rule counts only the requests that reach it (no earlier
    rule fired) and pass its filters. The first rule that fires decides; none: forwarded.

Refusal: for the first --refuse-seconds after start the proxy does not listen at all
(mode "unbound": connections are refused) or accepts and closes at once (mode "close",
each logged as {"refused": true}). The control file may also hold "refuse_seconds" and
"refuse_mode" (counted from the moment the control file is first read with them).

Restart: the listening socket has SO_REUSEADDR, so after the proxy is killed (SIGKILL,
even with connections open) a new one can listen on the same --port at once.

Safety: the proxy ends by itself when no connection or request came for --idle-timeout
seconds (default 120) or when its parent process is gone. Tests stop it by pid.
The ready file (if given) is written once the proxy runs: {"pid", "port", "listening"}.
"""

import argparse
import hashlib
import http.client
import json
import os
import random
import re
import socket
import struct
import sys
import threading
import time
import urllib.parse

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
              "expect", "content-length"}
MAX_HEAD = 64 * 1024
BODY_HEAD = 512  # logged bytes of each request body (a CompleteMultipartUpload's first parts)


class Rule:
    def __init__(self, spec, index):
        self.spec = spec
        self.index = index
        self.count = 0
        self.fired = 0
        self.fired_on = {}  # (method, target) -> times fired
        self.random = random.Random(spec.get("seed", index))
        self.methods = {m.upper() for m in spec.get("methods", [])}
        self.path_re = re.compile(spec["path_regex"]) if "path_regex" in spec else None
        self.query_re = re.compile(spec["query_regex"]) if "query_regex" in spec else None
        self.header = spec.get("header")
        self.min_body = int(spec.get("min_body", 0))

    def passes(self, req):
        if self.methods and req.method not in self.methods:
            return False
        if self.path_re and not self.path_re.search(req.path):
            return False
        if self.query_re and not self.query_re.search(req.query):
            return False
        if self.header:
            value = req.header(self.header[0])
            if value is None or (len(self.header) > 1 and value.lower() != self.header[1].lower()):
                return False
        if req.content_length < self.min_body:
            return False
        return True

    def fires(self, req):
        """Called (under the lock) for a request that passes the filters."""
        self.count += 1
        n = self.count
        s = self.spec
        if "limit" in s and self.fired >= int(s["limit"]):
            return False
        key = (req.method, req.target)
        if "target_limit" in s and self.fired_on.get(key, 0) >= int(s["target_limit"]):
            return False
        hit = True
        if "every" in s:
            hit = hit and n % int(s["every"]) == 0
        if "first" in s:
            hit = hit and n <= int(s["first"])
        if "after" in s:
            hit = hit and n > int(s["after"])
        if "fraction" in s:
            hit = hit and self.random.random() < float(s["fraction"])
        if hit:
            self.fired += 1
            self.fired_on[key] = self.fired_on.get(key, 0) + 1
        return hit


class Request:
    def __init__(self, method, target, version, headers):
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers  # [(name, value)] as sent
        parts = urllib.parse.urlsplit(target)
        self.path = parts.path
        self.query = parts.query
        self.content_length = int(self.header("content-length") or 0)
        self.chunked = "chunked" in (self.header("transfer-encoding") or "").lower()

    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None


class Proxy:
    def __init__(self, args):
        self.args = args
        self.upstream = urllib.parse.urlsplit(args.upstream)
        self.lock = threading.Lock()
        self.log_file = open(args.log, "a", encoding="utf-8")
        self.seq = 0
        self.conn_seq = 0
        self.started = time.time()
        self.last_activity = time.monotonic()
        self.control_text = None
        self.rules = [Rule(r, i) for i, r in enumerate(json.loads(args.rules))] if args.rules else []
        self.base_rules = list(self.rules)
        self.refuse_until = self.started + args.refuse_seconds
        self.refuse_mode = args.refuse_mode

    # ---- control ---------------------------------------------------------------------
    def reload_control(self):
        if not self.args.control:
            return
        try:
            with open(self.args.control, encoding="utf-8") as f:
                text = f.read()
        except OSError:
            return
        if text == self.control_text:
            return
        try:
            doc = json.loads(text) if text.strip() else {}
        except ValueError:
            return  # being written: keep the old rules (tests should rename into place)
        self.control_text = text
        self.rules = [Rule(r, i) for i, r in enumerate(doc.get("rules", []))] if "rules" in doc else self.base_rules
        for r in self.rules:
            r.count = 0
            r.fired = 0
        if "refuse_seconds" in doc:
            self.refuse_until = time.time() + float(doc["refuse_seconds"])
            self.refuse_mode = doc.get("refuse_mode", "close")

    def decide(self, req):
        with self.lock:
            self.reload_control()
            for rule in self.rules:
                if rule.passes(req) and rule.fires(req):
                    return rule
        return None

    def touch(self):
        self.last_activity = time.monotonic()

    def log(self, record):
        with self.lock:
            self.seq += 1
            record = {"n": self.seq, "t": round(time.time() - self.started, 3), **record}
            self.log_file.write(json.dumps(record) + "\n")
            self.log_file.flush()

    # ---- connections -----------------------------------------------------------------
    def serve(self, client, conn_id):
        upstream = None
        try:
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            reader = Reader(client)
            while True:
                head = reader.read_head()
                if head is None:
                    return
                self.touch()
                req = parse_head(head)
                if req is None:
                    send_all(client, b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    return
                rule = self.decide(req)
                action = rule.spec.get("action", "error") if rule else "forward"
                record = {"conn": conn_id, "method": req.method, "target": req.target, "path": req.path,
                          "query": req.query, "headers": req.headers, "action": action,
                          "rule": rule.index if rule else None}
                expects = (req.header("expect") or "").lower() == "100-continue"
                keep = req.version == "HTTP/1.1" and (req.header("connection") or "").lower() != "close"

                if action == "error":
                    status = int(rule.spec.get("status", 503))
                    code = rule.spec.get("code", "SlowDown" if status == 503 else "InternalError")
                    message = rule.spec.get("message", {"SlowDown": "Please reduce your request rate.",
                                                        "InternalError": "We encountered an internal error. "
                                                                         "Please try again."}.get(code, code))
                    if expects:
                        keep = False  # answered before the body: the connection cannot be reused
                        record["body_bytes"] = 0
                    else:
                        body = reader.read_body(req)
                        if body is None:
                            return
                        record.update(body_record(body))
                    xml = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>%s</Message>"
                           "<RequestId>faultproxy-%d</RequestId></Error>" % (code, message, conn_id)).encode()
                    record["status"] = status
                    self.log(record)
                    reason = {500: "Internal Server Error", 503: "Slow Down"}.get(status, "Error")
                    send_all(client, ("HTTP/1.1 %d %s\r\nContent-Type: application/xml\r\nContent-Length: %d\r\n"
                                      "Connection: %s\r\n\r\n" % (status, reason, len(xml),
                                                                  "keep-alive" if keep else "close")).encode() + xml)
                    if not keep:
                        drain_and_close(client)
                        return
                    continue

                if action == "cut":
                    if expects:
                        send_all(client, b"HTTP/1.1 100 Continue\r\n\r\n")
                    total = req.content_length
                    cut_after = int(rule.spec.get("cut_after", total // 2))
                    got = reader.read_some(min(cut_after, total))
                    record["body_bytes"] = got
                    self.log(record)
                    reset(client)
                    return

                if action == "stall":
                    self.log(record)
                    stall(client, reader, float(rule.spec.get("stall_seconds", 3600)), self.touch)
                    return

                # forward (also "slow": forwarded, answered slowly; "slow_body": its body read
                # slowly, then forwarded; "delay": forwarded late; "drop_answer": forwarded,
                # never answered)
                if expects:
                    if action == "slow_body":
                        hold(float(rule.spec.get("continue_delay", 0)), self.touch)
                    send_all(client, b"HTTP/1.1 100 Continue\r\n\r\n")
                if action == "slow_body" and not req.chunked:
                    body = reader.read_slowly(req.content_length, float(rule.spec.get("rate", 4 << 20)),
                                              int(rule.spec.get("piece", 64 << 10)), self.touch)
                else:
                    body = reader.read_body(req)
                if body is None:
                    record["body_bytes"] = "incomplete"
                    self.log(record)
                    return
                record.update(body_record(body))
                if action == "delay":
                    seconds = float(rule.spec.get("seconds", 5))
                    record["delay_seconds"] = seconds
                    hold(seconds, self.touch)
                try:
                    if upstream is None:
                        upstream = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=600)
                    status, reason, headers, payload = forward(upstream, req, body)
                except (OSError, http.client.HTTPException) as e:
                    if upstream is not None:
                        upstream.close()
                    upstream = None
                    record["status"] = 502
                    record["upstream_error"] = str(e)
                    self.log(record)
                    msg = b"<Error><Code>BadGateway</Code><Message>faultproxy: upstream failed</Message></Error>"
                    send_all(client, b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                             % len(msg) + msg)
                    return
                record["status"] = status
                if action == "flip" and 200 <= status < 300 and payload:
                    at = int(rule.spec.get("offset", len(payload) // 2)) % len(payload)
                    payload = payload[:at] + bytes([payload[at] ^ 0xFF]) + payload[at + 1:]
                    record["flipped_at"] = at
                if status >= 300 and payload:
                    record["response_head"] = payload[:300].decode("utf-8", "replace")
                self.log(record)
                out = ["HTTP/1.1 %d %s" % (status, reason)]
                for k, v in headers:
                    if k.lower() in HOP_BY_HOP and not (k.lower() == "content-length" and req.method == "HEAD"):
                        continue
                    out.append("%s: %s" % (k, v))
                if req.method != "HEAD" and status not in (204, 304) and status >= 200:
                    out.append("Content-Length: %d" % len(payload))
                out.append("Connection: %s" % ("keep-alive" if keep else "close"))
                data = ("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + payload
                if action == "slow":
                    trickle(client, data, float(rule.spec.get("rate", 8)), self.touch)
                    return
                if action == "drop_answer":
                    if rule.spec.get("close", "fin") == "reset":
                        reset(client)
                    else:
                        client.shutdown(socket.SHUT_RDWR)
                    return
                send_all(client, data)
                if not keep:
                    return
        except (OSError, ValueError):
            return
        finally:
            if upstream is not None:
                upstream.close()
            try:
                client.close()
            except OSError:
                pass

    def refused(self, client, conn_id):
        self.log({"conn": conn_id, "refused": True})
        reset(client)

    def run(self):
        port = self.args.port
        listener = None
        if self.refuse_mode == "unbound" and self.args.refuse_seconds > 0:
            self.write_ready(port, listening=False)
            while time.time() < self.refuse_until:
                time.sleep(min(0.02, max(0.0, self.refuse_until - time.time())))
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(128)
        listener.settimeout(0.5)
        self.write_ready(listener.getsockname()[1], listening=True)
        while True:
            try:
                client, _ = listener.accept()
            except socket.timeout:
                continue
            self.touch()
            client.settimeout(None)
            with self.lock:
                self.conn_seq += 1
                conn_id = self.conn_seq
                self.reload_control()
                refusing = time.time() < self.refuse_until
            if refusing:
                self.refused(client, conn_id)
                continue
            threading.Thread(target=self.serve, args=(client, conn_id), daemon=True).start()

    def write_ready(self, port, listening):
        if not self.args.ready_file:
            return
        tmp = self.args.ready_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"pid": os.getpid(), "port": port, "listening": listening,
                       "refuse_until": self.refuse_until - self.started}, f)
        os.replace(tmp, self.args.ready_file)

    def watchdog(self, parent):
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(0)  # the test that started us is gone
            if time.monotonic() - self.last_activity > self.args.idle_timeout:
                sys.stderr.write("faultproxy: idle for %ss, exiting\n" % self.args.idle_timeout)
                os._exit(0)


class Reader:
    """Buffered reads from a client socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def fill(self):
        data = self.sock.recv(1 << 20)
        if not data:
            return False
        self.buf += data
        return True

    def read_head(self):
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > MAX_HEAD or not self.fill():
                return None
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        return head

    def read_exact(self, n):
        chunks = []
        have = len(self.buf)
        if have >= n:
            out, self.buf = self.buf[:n], self.buf[n:]
            return out
        chunks.append(self.buf)
        self.buf = b""
        while have < n:
            data = self.sock.recv(min(1 << 20, n - have))
            if not data:
                return None
            chunks.append(data)
            have += len(data)
        return b"".join(chunks)

    def read_line(self):
        while b"\r\n" not in self.buf:
            if not self.fill():
                return None
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_body(self, req):
        if req.chunked:
            parts = []
            while True:
                line = self.read_line()
                if line is None:
                    return None
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while True:  # trailers
                        t = self.read_line()
                        if t is None:
                            return None
                        if t == b"":
                            return b"".join(parts)
                data = self.read_exact(size + 2)
                if data is None:
                    return None
                parts.append(data[:-2])
        return self.read_exact(req.content_length) if req.content_length else b""

    def read_slowly(self, n, rate, piece, touch):
        """Reads n body bytes, `piece` at a time, at `rate` bytes/s; None if they stop coming.
        The receive buffer is made small first, so the client cannot hand the body over to
        the kernel at once."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, max(4096, piece // 2))
        except OSError:
            pass
        chunks = []
        have = 0
        start = time.monotonic()
        while have < n:
            data = self.read_exact(min(piece, n - have))
            if data is None:
                return None
            chunks.append(data)
            have += len(data)
            touch()
            ahead = start + have / rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
        return b"".join(chunks)

    def read_some(self, n):
        """Reads (and drops) up to n body bytes; returns how many came."""
        got = min(n, len(self.buf))
        self.buf = self.buf[got:]
        while got < n:
            try:
                data = self.sock.recv(min(1 << 20, n - got))
            except OSError:
                break
            if not data:
                break
            got += len(data)
        return got


def parse_head(head):
    try:
        text = head.decode("latin-1")
        lines = text.split("\r\n")
        method, target, version = lines[0].split(" ", 2)
        headers = []
        for line in lines[1:]:
            if not line:
                continue
            name, _, value = line.partition(":")
            headers.append([name.strip(), value.strip()])
        return Request(method.upper(), target, version.strip(), headers)
    except ValueError:
        return None


def body_record(body):
    return {"body_bytes": len(body), "body_sha256": hashlib.sha256(body).hexdigest(),
            "body_head": body[:BODY_HEAD].decode("latin-1"), "body_head_hex": body[:BODY_HEAD].hex()}


def forward(upstream, req, body):
    upstream.putrequest(req.method, req.target, skip_host=True, skip_accept_encoding=True)
    for k, v in req.headers:
        if k.lower() in HOP_BY_HOP:
            continue
        upstream.putheader(k, v)
    if body or req.method in ("PUT", "POST"):
        upstream.putheader("Content-Length", str(len(body)))
    upstream.endheaders(body if body else None)
    resp = upstream.getresponse()
    payload = resp.read()
    headers = resp.getheaders()
    if resp.will_close:
        upstream.close()
    return resp.status, resp.reason, headers, payload


def send_all(sock, data):
    sock.sendall(data)


def reset(sock):
    """Closes with a RST (unread data or not): the peer sees the connection cut."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass


def drain_and_close(sock):
    """Half-closes after an answer and drops what still comes, so that the answer is read
    before the connection goes (closing with unread data would send a RST at once)."""
    try:
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(2)
        until = time.monotonic() + 5
        while time.monotonic() < until and sock.recv(1 << 16):
            pass
    except OSError:
        pass


def stall(sock, reader, seconds, touch):
    until = time.monotonic() + seconds
    sock.settimeout(0.5)
    while time.monotonic() < until:
        try:
            data = sock.recv(1 << 16)
            if not data:
                return  # the client gave up
        except socket.timeout:
            continue
        except OSError:
            return
    reset(sock)


def hold(seconds, touch):
    """Sleeps `seconds`, keeping the idle watchdog away."""
    until = time.monotonic() + seconds
    while True:
        left = until - time.monotonic()
        if left <= 0:
            return
        touch()
        time.sleep(min(0.5, left))


def trickle(sock, data, rate, touch):
    step = max(1, int(rate / 4)) if rate >= 4 else 1
    delay = step / rate
    for i in range(0, len(data), step):
        try:
            sock.sendall(data[i:i + step])
        except OSError:
            return
        touch()
        time.sleep(delay)


def main():
    parent = os.getppid()  # the test that started us: when it is gone, so are we
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, required=True, help="loopback port to listen on (0: any, see --ready-file)")
    p.add_argument("--upstream", required=True, help="http://127.0.0.1:PORT of the S3 server")
    p.add_argument("--log", required=True, help="one JSON line per request is appended here")
    p.add_argument("--control", help="JSON file read before each request: {\"rules\": [...]}")
    p.add_argument("--rules", help="initial rules (JSON list)")
    p.add_argument("--ready-file", help="written once running: {\"pid\", \"port\", \"listening\"}")
    p.add_argument("--refuse-seconds", type=float, default=0)
    p.add_argument("--refuse-mode", choices=["unbound", "close"], default="unbound")
    p.add_argument("--idle-timeout", type=float, default=120)
    args = p.parse_args()
    proxy = Proxy(args)
    threading.Thread(target=proxy.watchdog, args=(parent,), daemon=True).start()
    try:
        proxy.run()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""supervise as the ENTRYPOINT of real containers (podman + runc), side by side with
Debian's tini where tini has an answer.

  SUPERVISE_CONTAINER_STATE=FILE container_test.py [TestClass ...]

ctest runs one class per test (label container), after the fixture container.images
(images.py) built the images FILE names. Each test names its containers uniquely and
removes them; it waits for things by polling with deadlines, never by sleeping. See
docs/container-tests.md for what each class covers and what the suite costs.
"""

import hashlib
import hmac
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import datetime, timezone

from harness import BASE_IMAGE, CONTAINERS_CONF, REPO, ContainerTest, eventually, main, podman, read_json

TINI = "/usr/bin/tini"


def timestamp(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def supervise_lines(text):
    """supervise's own log lines ([supervise] prefix) of a container's output."""
    return [line for line in text.splitlines() if line.startswith("[supervise]")]


def store_files(store):
    """Every file under store, as paths relative to it."""
    found = []
    for directory, _, files in os.walk(store):
        found += [os.path.relpath(os.path.join(directory, f), store) for f in files]
    return sorted(found)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


class ExitCodes(ContainerTest):
    """`podman run` exits with what the command earned: the same under supervise and tini
    (3, 137, 126, 127); 125 for invalid input is supervise's (tini has no such input: a bad
    option makes it print its usage and exit 1). The container's own exit code (podman
    inspect) is checked too, so a 125 of podman itself cannot pass for supervise's."""

    CASES = [
        ("exit 3", ["sh", "-c", "exit 3"], 3),
        ("killed by SIGKILL", ["sh", "-c", "kill -KILL $$"], 137),
        ("not executable", ["/etc/passwd"], 126),
        ("not found", ["/nonexistent/command"], 127),
    ]

    def test_command_exit_codes_under_supervise_and_tini(self):
        for label, command, code in self.CASES:
            for entrypoint in (None, TINI):
                with self.subTest(label, entrypoint=entrypoint or "supervise"):
                    run = self.run_container("exit", ["--", *command], entrypoint=entrypoint)
                    self.assertEqual(run.exit_code, code, run)
                    self.assertEqual(run.podman_rc, code, run)

    def test_messages_of_a_command_that_cannot_run(self):
        run = self.run_container("notfound", ["--", "/nonexistent/command"])
        self.assertEqual(run.exit_code, 127, run)
        lines = supervise_lines(run.output)
        found = [i for i, line in enumerate(lines) if "command not found: /nonexistent/command" in line]
        exited = [i for i, line in enumerate(lines) if "command exited with 127" in line]
        self.assertTrue(found, f"no 'command not found' line:\n{run.output}")
        self.assertTrue(exited, f"no 'command exited with 127' line:\n{run.output}")
        self.assertLess(found[0], exited[0], f"'command not found' is not logged first:\n{run.output}")

        run = self.run_container("noexec", ["--", "/etc/passwd"])
        self.assertEqual(run.exit_code, 126, run)
        self.assertRegex(run.output, r"cannot execute /etc/passwd: Permission denied")

    def test_invalid_input_is_125(self):
        run = self.run_container("invalid", ["--timeout", "5x", "--", "true"])
        self.assertEqual(run.exit_code, 125, run)
        self.assertEqual(run.podman_rc, 125, run)
        self.assertIn('supervise: command line: --timeout: "5x" is not a duration', run.stderr)
        # tini's answer to an option it does not know: its usage, exit 1.
        run = self.run_container("invalid-tini", ["--no-such-option", "--", "true"], entrypoint=TINI)
        self.assertEqual(run.exit_code, 1, run)


class SpecAndStatus(ContainerTest):
    """A task spec and the status through volumes; an invalid spec; --timeout;
    --exit-code-from action. (tini reads no spec and writes no status.)"""

    SPEC = """\
name: train
command: [/bin/sh]
args: [/tmp/run.sh]
environment: {GREETING: from-the-spec}
files:
- path: /tmp/run.sh
  mode: "0755"
  contents: |
    echo "hello $GREETING"
    echo ran > /out/ran
    exit 3
exitActions:
  COMPLETE: 0
  RESCHEDULE: 3
"""

    INVALID = """\
name: broken
command: [/bin/sh, -c, "echo ran > /out/ran"]
checkpoint:
- path: /tmp/ckpt
  url: file:///out/store
  frequency: 5x
exitActions:
  RESCHEDULE: 1-10
  FAIL: 5
"""

    def test_spec_and_status_through_volumes(self):
        self.write("spec/task.yaml", self.SPEC)
        out = self.directory("out")
        run = self.run_container("spec", ["--spec", "/spec/task.yaml", "--status-file", "/out/status.json"],
                                 volumes=[(os.path.join(self.tmp, "spec"), "/spec:ro"), (out, "/out")])
        self.assertEqual(run.exit_code, 3, run)
        self.assertIn("hello from-the-spec", run.stdout)
        self.assertEqual(read(os.path.join(out, "ran")), "ran\n")
        status = read_json(os.path.join(out, "status.json"))
        self.assertEqual(status["task"], "train")
        self.assertEqual(status["action"], "RESCHEDULE")
        self.assertEqual(status["exit_code"], 3)
        self.assertIsNone(status["signal"])
        self.assertIsNone(status["error"])
        self.assertIsNone(status["stop"])
        self.assertEqual(status["command"], ["/bin/sh", "/tmp/run.sh"])
        self.assertIs(status.get("provisional"), False, status)
        self.assertSchema(status)

    def test_invalid_spec(self):
        self.write("spec/bad.yaml", self.INVALID)
        out = self.directory("out")
        run = self.run_container("badspec", ["--spec", "/spec/bad.yaml", "--status-file", "/out/status.json"],
                                 volumes=[(os.path.join(self.tmp, "spec"), "/spec:ro"), (out, "/out")])
        self.assertEqual(run.exit_code, 125, run)
        problems = [line for line in run.stderr.splitlines() if line.startswith("supervise: /spec/bad.yaml: ")]
        self.assertTrue(any('frequency: "5x" is not a duration' in line for line in problems), run)
        self.assertTrue(any("code 5 is covered by both" in line for line in problems), run)
        self.assertFalse(os.path.exists(os.path.join(out, "ran")), "the command of an invalid spec ran")
        self.assertFalse(os.path.exists(os.path.join(out, "store")), "an invalid spec wrote its store")
        status = read_json(os.path.join(out, "status.json"))
        self.assertEqual((status["action"], status["exit_code"]), ("FAIL", 125))
        self.assertRegex(status["error"], r"^invalid input")
        self.assertSchema(status)

    def test_timeout(self):
        out = self.directory("out")
        run = self.run_container("timeout", ["--timeout", "2s", "--status-file", "/out/status.json", "--",
                                             "sh", "-c", "echo started; exec sleep 1000"],
                                 volumes=[(out, "/out")], timeout=60)
        self.assertEqual(run.exit_code, 143, run)
        status = read_json(os.path.join(out, "status.json"))
        self.assertEqual(status["stop"]["requested_by"], "timeout")
        self.assertEqual((status["exit_code"], status["signal"]), (143, "SIGTERM"))
        self.assertGreaterEqual(status["duration_seconds"], 1.9)
        self.assertLess(run.seconds, 40, run)
        self.assertSchema(status)

    def test_exit_code_from_action(self):
        out = self.directory("out")
        cases = [  # arguments, the supervisor's exit code, the command's, the action
            (["--exit-action", "RESCHEDULE=3", "--", "sh", "-c", "exit 3"], 75, 3, "RESCHEDULE"),
            (["--", "sh", "-c", "exit 4"], 1, 4, "FAIL"),
            (["--timeout", "5x", "--", "true"], 1, 125, "FAIL"),
        ]
        for i, (args, code, command_code, action) in enumerate(cases):
            with self.subTest(args=args):
                status_file = f"/out/status-{i}.json"
                run = self.run_container("action", ["--exit-code-from", "action", "--status-file", status_file, *args],
                                         volumes=[(out, "/out")])
                self.assertEqual(run.exit_code, code, run)
                status = read_json(os.path.join(out, os.path.basename(status_file)))
                self.assertEqual((status["exit_code"], status["action"], status["supervisor_exit_code"]),
                                 (command_code, action, code))
                self.assertSchema(status)


# A command that traps SIGTERM: on TERM it writes its last state into the checkpoint
# directory and exits 0 (`wait` returns at once on a trapped signal).
TERM_TRAPPING = """\
mkdir -p /work/ckpt
echo step-1 > /work/ckpt/model.bin
trap 'echo final > /work/ckpt/model.bin; echo trapped TERM; exit 0' TERM
echo ready > /out/ready
sleep 1000 &
wait $!
"""

# A command that ignores SIGTERM (the ignored disposition survives exec).
TERM_IGNORING = """\
mkdir -p /work/ckpt
echo data > /work/ckpt/model.bin
trap '' TERM
echo ready > /out/ready
exec sleep 1000
"""

CHECKPOINT = "path=/work/ckpt,url=file:///store,frequency=1h"


class StopTermTrapped(ContainerTest):
    """`podman stop -t 30` on a command that traps SIGTERM: it ends on its own at once;
    supervise's final checkpoint stores its last state whole (no temporary file left in
    the store), and the status says the stop came from SIGTERM. tini: the same exit."""

    def stop(self, name, timeout):
        started = time.monotonic()
        podman("stop", "-t", str(timeout), name, timeout=timeout + 60)
        return time.monotonic() - started

    def test_supervise(self):
        out, store = self.directory("out"), self.directory("store")
        name = self.start("stop-trap", ["--checkpoint", CHECKPOINT, "--status-file", "/out/status.json",
                                        "--", "sh", "-c", TERM_TRAPPING],
                          volumes=[(out, "/out"), (store, "/store")])
        self.wait_for_file(os.path.join(out, "ready"))
        seconds = self.stop(name, 30)
        self.assertLess(seconds, 20, "podman stop waited for its own SIGKILL")
        self.assertEqual(self.exit_code(name), 0, self.logs(name))
        log = self.logs(name)
        self.assertIn("trapped TERM", log)
        self.assertIn("Checkpointing data from /work/ckpt to file:///store finished", log)
        status = read_json(os.path.join(out, "status.json"))
        self.assertEqual(status["stop"]["requested_by"], "SIGTERM")
        self.assertEqual((status["exit_code"], status["signal"], status["action"]), (0, None, "COMPLETE"))
        self.assertIs(status.get("provisional"), False, status)
        final = status["checkpoints"][0]["final"]
        self.assertTrue(final["ok"], status)
        self.assertEqual(read(os.path.join(store, "ckpt", "model.bin")), "final\n")
        files = store_files(store)
        self.assertIn("ckpt.manifest.json", files)
        self.assertEqual([f for f in files if ".tmp-" in f], [], f"temporary files left in the store: {files}")
        manifest = read_json(os.path.join(store, "ckpt.manifest.json"))
        self.assertIs(manifest["final"], True)
        self.assertSchema(status)

    def test_tini(self):
        out, store = self.directory("out"), self.directory("store")
        name = self.start("stop-trap-tini", ["--", "sh", "-c", TERM_TRAPPING], entrypoint=TINI,
                          volumes=[(out, "/out"), (store, "/store")])
        self.wait_for_file(os.path.join(out, "ready"))
        seconds = self.stop(name, 30)
        self.assertLess(seconds, 20, "podman stop waited for its own SIGKILL")
        self.assertEqual(self.exit_code(name), 0, self.logs(name))
        self.assertIn("trapped TERM", self.logs(name))


class StopTermIgnored(ContainerTest):
    """The stop budget. A command that ignores SIGTERM, under --grace-period 4s (the
    default --stop-timeout 10s is shortened to 2 s, with a warning at start-up): `podman
    stop -t 60` sees supervise SIGKILL it about 2 s after the stop and store the final
    checkpoint, all inside 4 s. tini waits until the runtime's own SIGKILL.
    And when the runtime kills first (`podman stop -t 2` under --grace-period 60s), the
    provisional status written at the stop request is what the scheduler finds."""

    def stop(self, name, timeout):
        started = time.monotonic()
        podman("stop", "-t", str(timeout), name, timeout=timeout + 60)
        return time.monotonic() - started

    def test_supervise_kills_within_half_the_grace_period(self):
        out, store = self.directory("out"), self.directory("store")
        name = self.start("stop-budget", ["--grace-period", "4s", "--checkpoint", CHECKPOINT,
                                          "--status-file", "/out/status.json", "--", "sh", "-c", TERM_IGNORING],
                          volumes=[(out, "/out"), (store, "/store")])
        self.wait_for_file(os.path.join(out, "ready"))

        def warning():
            return [line for line in supervise_lines(self.logs(name))
                    if " warn" in line and re.search(r"stop.timeout", line, re.I)]
        try:
            eventually(warning, 10, "a start-up warning that the stop timeout is shortened")
        except AssertionError as e:
            raise AssertionError(f"{e}:\n{self.logs(name)}") from None
        seconds = self.stop(name, 60)
        self.assertLess(seconds, 30, "podman stop waited for its own SIGKILL")
        log = self.logs(name)
        self.assertEqual(self.exit_code(name), 137, log)
        status = read_json(os.path.join(out, "status.json"))
        self.assertEqual(status["stop"]["requested_by"], "SIGTERM")
        self.assertEqual((status["exit_code"], status["signal"]), (137, "SIGKILL"), status)
        self.assertIs(status.get("provisional"), False, status)
        after_stop = (timestamp(status["finished_at"]) - timestamp(status["stop"]["at"])).total_seconds()
        self.assertGreaterEqual(after_stop, 1.8, f"SIGKILL before the shortened stop timeout (2 s): {status}")
        self.assertLess(after_stop, 4.0, f"the status came after the grace period (4 s): {status}")
        final = status["checkpoints"][0]["final"]
        self.assertTrue(final["ok"], status)
        self.assertEqual(read(os.path.join(store, "ckpt", "model.bin")), "data\n")
        self.assertSchema(status)

    def test_tini_waits_for_the_runtime(self):
        out = self.directory("out")
        name = self.start("stop-budget-tini", ["--", "sh", "-c", TERM_IGNORING], entrypoint=TINI,
                          volumes=[(out, "/out")])
        self.wait_for_file(os.path.join(out, "ready"))
        seconds = self.stop(name, 5)
        self.assertEqual(self.exit_code(name), 137, self.logs(name))
        self.assertGreaterEqual(seconds, 4.5, "tini ended before the runtime's SIGKILL")

    def test_provisional_status_when_the_runtime_kills_first(self):
        out = self.directory("out")
        name = self.start("provisional", ["--grace-period", "60s", "--exit-action", "RESCHEDULE=SIGTERM",
                                          "--status-file", "/out/status.json",
                                          "--termination-log", "/out/termination-log",
                                          "--", "sh", "-c", TERM_IGNORING],
                          volumes=[(out, "/out")])
        self.wait_for_file(os.path.join(out, "ready"))
        self.assertFalse(os.path.exists(os.path.join(out, "status.json")), "a status before the stop")
        self.stop(name, 2)
        self.assertEqual(self.exit_code(name), 137, self.logs(name))  # the runtime's SIGKILL
        status = read_json(os.path.join(out, "status.json"))
        self.assertIs(status.get("provisional"), True, status)
        self.assertEqual((status["exit_code"], status["signal"], status["action"]), (143, "SIGTERM", "RESCHEDULE"))
        self.assertEqual(status["stop"]["requested_by"], "SIGTERM")
        text = read(os.path.join(out, "termination-log"))
        self.assertLessEqual(len(text.encode()), 4096)
        self.assertEqual(len(text.strip().splitlines()), 1, text)
        compact = json.loads(text)
        self.assertIs(compact.get("provisional"), True, compact)
        self.assertEqual((compact["exit_code"], compact["action"]), (143, "RESCHEDULE"))
        self.assertSchema(status)
        self.assertSchema(compact, compact=True)


# 100 orphans: each subshell starts a `sleep 2` and exits, so the sleeps are reparented
# to PID 1; when they end, only PID 1 can reap them.
ORPHANS = """\
for i in $(seq 100); do (sleep 2 &); done
echo ready > /out/ready
exec sleep 1000
"""


class Orphans(ContainerTest):
    """100 orphans leave no zombie, as `podman top` shows, under supervise and tini. The
    control: a PID 1 that never reaps (the shell exec'ing sleep) shows 100 zombies."""

    def processes(self, name):
        """podman top's rows; [] when podman top lost a race with an ending process (it
        lists /proc, then reads each entry: "read /proc/101/cmdline: no such process")."""
        r = podman("top", name, "pid", "ppid", "state", "comm", check=False)
        if r.returncode != 0:
            if "no such process" in r.stderr:
                return []
            raise AssertionError(f"podman top {name} exited {r.returncode}: {r.stderr}")
        rows = [line.split() for line in r.stdout.splitlines()[1:] if line.strip()]
        return [{"pid": int(r[0]), "ppid": int(r[1]), "state": r[2], "comm": r[3]} for r in rows]

    def settle(self, name, pid1):
        """Polls podman top until only PID 1 and the command's `sleep 1000` are left."""
        last = []

        def settled():
            last[:] = self.processes(name)
            return sorted(p["comm"] for p in last) == sorted([pid1, "sleep"]) and \
                not any(p["state"].startswith("Z") for p in last)
        try:
            eventually(settled, 60, "only PID 1 and the command left")
        except AssertionError as e:
            raise AssertionError(f"{e}; podman top: {last}") from None
        return last

    def test_supervise(self):
        out = self.directory("out")
        name = self.start("orphans", ["--", "sh", "-c", ORPHANS], volumes=[(out, "/out")])
        self.wait_for_file(os.path.join(out, "ready"))
        self.settle(name, "supervise")

    def test_tini(self):
        out = self.directory("out")
        name = self.start("orphans-tini", ["--", "sh", "-c", ORPHANS], entrypoint=TINI, volumes=[(out, "/out")])
        self.wait_for_file(os.path.join(out, "ready"))
        self.settle(name, "tini")

    def test_control_without_a_reaper(self):
        """The shell execs `sleep 1000`, so PID 1 never calls wait: every orphan that ends
        stays a zombie. (The shell, as PID 1 before its exec, reaps the orphans that end
        while its loop still runs: on a loaded machine that can be some of them, so this
        asserts zombies, not exactly 100.)"""
        out = self.directory("out")
        name = self.start("orphans-none", ["-c", ORPHANS], entrypoint="/bin/sh", volumes=[(out, "/out")])
        self.wait_for_file(os.path.join(out, "ready"))
        last = []

        def all_orphans_ended():
            last[:] = self.processes(name)
            alive = [p for p in last if not p["state"].startswith("Z")]
            return [p["pid"] for p in alive] == [1] and len(last) > 1
        try:
            eventually(all_orphans_ended, 60, "every orphan ended, and zombies left under a PID 1 that does not reap")
        except AssertionError as e:
            raise AssertionError(f"{e}; podman top: {last}") from None
        zombies = [p for p in last if p["state"].startswith("Z")]
        self.assertTrue(all(p["comm"] == "sleep" and p["ppid"] == 1 for p in zombies), last)
        print(f"{len(zombies)} zombies under a PID 1 that does not reap (100 orphans)")


class SignalUsr1(ContainerTest):
    """`podman kill -s USR1` reaches the command's trap, under supervise and tini."""

    COMMAND = """\
trap 'echo got USR1 > /out/usr1; exit 7' USR1
echo ready > /out/ready
while :; do sleep 0.2; done
"""

    def check(self, entrypoint):
        out = self.directory("out")
        name = self.start("usr1", ["--", "sh", "-c", self.COMMAND], entrypoint=entrypoint, volumes=[(out, "/out")])
        self.wait_for_file(os.path.join(out, "ready"))
        podman("kill", "-s", "USR1", name)
        self.assertEqual(self.wait(name, 60), 7, self.logs(name))
        self.assertEqual(read(os.path.join(out, "usr1")), "got USR1\n")

    def test_supervise(self):
        self.check(None)

    def test_tini(self):
        self.check(TINI)


class CtrlC(ContainerTest):
    """Ctrl-C typed into `podman run -it` (in a tmux pane) stops the command: the
    terminal's SIGINT goes to the command's foreground process group, which supervise
    (like tini) made the foreground group of the container's terminal: exit 130."""

    def check(self, entrypoint):
        out = self.directory("out")
        name = self.name("ctrlc")
        argv = ["podman", "run", "-it", *self.options(name, [(out, "/out")], entrypoint),
                "--", "sh", "-c", "echo ready > /out/ready; exec sleep 1000"]
        socket_name = f"svtest-{uuid.uuid4().hex[:10]}"
        tmux = ["tmux", "-L", socket_name]
        shell = (f"env CONTAINERS_CONF={shlex.quote(CONTAINERS_CONF)} {shlex.join(argv)}; "
                 f"echo $? > {shlex.quote(os.path.join(out, 'podman-exit'))}")
        subprocess.run([*tmux, "new-session", "-d", "-s", "ctrlc", "-x", "120", "-y", "30", shell], check=True)
        self.addCleanup(subprocess.run, [*tmux, "kill-server"], capture_output=True)
        self.wait_for_file(os.path.join(out, "ready"))
        eventually(lambda: self.running(name), 30, "the container runs")
        subprocess.run([*tmux, "send-keys", "-t", "ctrlc", "C-c"], check=True)
        exit_file = os.path.join(out, "podman-exit")
        eventually(lambda: os.path.exists(exit_file) and read(exit_file).strip(), 60, "podman run -it ended")
        self.assertEqual(read(exit_file).strip(), "130", self.logs(name))
        self.assertEqual(self.exit_code(name), 130)

    def test_supervise(self):
        self.check(None)

    def test_tini(self):
        self.check(TINI)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class S3Checkpoint(ContainerTest):
    """An s3:// checkpoint to moto_server on the host (--network host) through the
    image's libcurl; and the clear 125 of an image without libcurl. (No tini row.)"""

    KEY_ID = "AKIDSUPERVISETEST"
    SECRET = "s3cr3t-of-the-container-test"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        moto = shutil.which("moto_server")
        if moto is None:
            raise AssertionError("moto_server is not on PATH (the s3 tests need it too)")
        cls.port = free_port()
        cls.moto_log = tempfile.NamedTemporaryFile(prefix="moto-", suffix=".log", delete=False)
        cls.moto = subprocess.Popen([moto, "-H", "127.0.0.1", "-p", str(cls.port)],
                                    stdout=cls.moto_log, stderr=subprocess.STDOUT)
        cls.endpoint = f"http://127.0.0.1:{cls.port}"

        def answers():
            try:
                urllib.request.urlopen(cls.endpoint + "/", timeout=2).read()
                return True
            except urllib.error.HTTPError:
                return True
            except OSError:
                return False
        try:
            eventually(answers, 60, f"moto_server answers on {cls.endpoint}")
        except AssertionError:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.moto.terminate()
        try:
            cls.moto.wait(20)
        except subprocess.TimeoutExpired:
            cls.moto.kill()
            cls.moto.wait()
        os.unlink(cls.moto_log.name)

    def request(self, method, path):
        """A request to moto signed with AWS Signature Version 4 (moto answers an unsigned
        GetObject with 403, as S3 does for an anonymous reader of a private object)."""
        url = self.endpoint + path
        parts = urllib.parse.urlsplit(url)
        now = datetime.now(timezone.utc)
        amz_date, date = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
        payload = hashlib.sha256(b"").hexdigest()
        headers = {"host": parts.netloc, "x-amz-content-sha256": payload, "x-amz-date": amz_date}
        signed = ";".join(sorted(headers))
        canonical = "\n".join([method, urllib.parse.quote(parts.path), parts.query,
                               "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)), signed, payload])
        scope = f"{date}/us-east-1/s3/aws4_request"
        to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
        key = ("AWS4" + self.SECRET).encode()
        for part in (date, "us-east-1", "s3", "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={self.KEY_ID}/{scope}, "
                                    f"SignedHeaders={signed}, Signature={signature}")
        del headers["host"]
        req = urllib.request.Request(url, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def task(self, image, what):
        bucket = f"ckpt-{uuid.uuid4().hex[:12]}"
        self.assertEqual(self.request("PUT", f"/{bucket}")[0], 200)
        out = self.directory("out")
        env = ["-e", f"AWS_ACCESS_KEY_ID={self.KEY_ID}", "-e", f"AWS_SECRET_ACCESS_KEY={self.SECRET}", "-e", "AWS_REGION=us-east-1",
               "-e", f"AWS_ENDPOINT_URL={self.endpoint}"]
        run = self.run_container(what, ["--checkpoint", f"path=/work/ckpt,url=s3://{bucket}/run,frequency=1h",
                                        "--status-file", "/out/status.json", "--", "sh", "-c",
                                        "mkdir -p /work/ckpt; echo weights > /work/ckpt/model.bin; echo ran > /out/ran"],
                                 volumes=[(out, "/out")], options=["--network", "host", *env], image=image)
        return bucket, out, run

    def test_checkpoint_to_moto(self):
        bucket, out, run = self.task(self.image, "s3")
        self.assertEqual(run.exit_code, 0, run)
        status = read_json(os.path.join(out, "status.json"))
        final = status["checkpoints"][0]["final"]
        self.assertTrue(final["ok"], status)
        self.assertEqual(final["files_stored"], 1, status)
        self.assertEqual(self.request("GET", f"/{bucket}/run/ckpt/model.bin"), (200, b"weights\n"))
        code, manifest = self.request("GET", f"/{bucket}/run/ckpt.manifest.json")
        self.assertEqual(code, 200)
        self.assertIs(json.loads(manifest)["final"], True)
        self.assertNotIn(self.SECRET, json.dumps(status), "the secret key in the status")
        self.assertNotIn(self.SECRET, run.output, "the secret key in the log")
        self.assertSchema(status)

    def test_image_without_libcurl(self):
        bucket, out, run = self.task(self.state["nocurl_image"], "s3-nocurl")
        self.assertEqual(run.exit_code, 125, run)
        self.assertIn("cannot load libcurl.so.4 (install libcurl4)", run.stderr)
        self.assertFalse(os.path.exists(os.path.join(out, "ran")), "the command ran")
        status = read_json(os.path.join(out, "status.json"))
        self.assertEqual((status["action"], status["exit_code"]), ("FAIL", 125))
        self.assertSchema(status)


class Hardened(ContainerTest):
    """--read-only, --user 65534, and the status and the termination log bind-mounted as
    single files (as Kubernetes mounts /dev/termination-log)."""

    SPEC = """\
name: ro
command: [/bin/sh, {script}]
files:
- path: {script}
  mode: "0755"
  contents: |
    echo ran > /out/ran
    exit 3
"""

    def test_read_only_root(self):
        out = self.directory("out")
        self.write("spec/tmp.yaml", self.SPEC.format(script="/tmp/run.sh"))  # /tmp: podman's tmpfs
        self.write("spec/opt.yaml", self.SPEC.format(script="/opt/run.sh"))
        volumes = [(os.path.join(self.tmp, "spec"), "/spec:ro"), (out, "/out")]
        run = self.run_container("ro", ["--spec", "/spec/tmp.yaml", "--status-file", "/out/status.json"],
                                 volumes=volumes, options=["--read-only"])
        self.assertEqual(run.exit_code, 3, run)
        self.assertEqual(read_json(os.path.join(out, "status.json"))["exit_code"], 3)
        os.unlink(os.path.join(out, "ran"))
        # A declared file on the read-only root: 125, nothing runs.
        run = self.run_container("ro-opt", ["--spec", "/spec/opt.yaml", "--status-file", "/out/status.json"],
                                 volumes=volumes, options=["--read-only"])
        self.assertEqual(run.exit_code, 125, run)
        self.assertIn("Read-only file system", run.stderr)
        self.assertFalse(os.path.exists(os.path.join(out, "ran")))
        status = read_json(os.path.join(out, "status.json"))
        self.assertEqual((status["action"], status["exit_code"]), ("FAIL", 125))
        self.assertSchema(status)
        # tini on the same read-only root.
        run = self.run_container("ro-tini", ["--", "sh", "-c", "exit 3"], entrypoint=TINI, options=["--read-only"])
        self.assertEqual(run.exit_code, 3, run)

    def test_user_nobody(self):
        out = self.directory("out", 0o777)
        run = self.run_container("nobody", ["--status-file", "/out/status.json", "--termination-log",
                                            "/out/termination-log", "--", "sh", "-c", "id -u > /out/uid; exit 4"],
                                 volumes=[(out, "/out")], options=["--user", "65534"])
        self.assertEqual(run.exit_code, 4, run)
        self.assertEqual(read(os.path.join(out, "uid")), "65534\n")
        self.assertEqual(os.stat(os.path.join(out, "status.json")).st_uid, 65534)
        status = read_json(os.path.join(out, "status.json"))
        self.assertEqual(status["exit_code"], 4)
        self.assertSchema(status)
        self.assertSchema(json.loads(read(os.path.join(out, "termination-log"))), compact=True)
        run = self.run_container("nobody-tini", ["--", "sh", "-c", "exit 4"], entrypoint=TINI,
                                 options=["--user", "65534"])
        self.assertEqual(run.exit_code, 4, run)

    def test_status_and_termination_log_as_single_files(self):
        status_file = self.write("status.json", "")
        log_file = self.write("termination-log", "")
        inodes = (os.stat(status_file).st_ino, os.stat(log_file).st_ino)
        run = self.run_container("single", ["--status-file", "/out/status.json", "--termination-log",
                                            "/dev/termination-log", "--", "sh", "-c", "exit 5"],
                                 volumes=[(status_file, "/out/status.json"), (log_file, "/dev/termination-log")])
        self.assertEqual(run.exit_code, 5, run)
        self.assertNotIn("Device or resource busy", run.stderr)
        self.assertEqual(inodes, (os.stat(status_file).st_ino, os.stat(log_file).st_ino))
        status = read_json(status_file)
        self.assertEqual((status["exit_code"], status["action"]), (5, "FAIL"))
        self.assertIs(status.get("provisional"), False, status)
        compact = json.loads(read(log_file))
        self.assertEqual(compact["exit_code"], 5)
        self.assertSchema(status)
        self.assertSchema(compact, compact=True)


class Dockerfile(ContainerTest):
    """packaging/Dockerfile, built with podman on the imported base (BASE build
    argument), then run: the demo CMD, and a command's exit code.

    The build is a real one (setup.sh --build-only with apt from the Debian mirror, a
    Release build, package.sh). podman's layer cache is kept between runs: the stage-1
    image is tagged :build and the image :latest, so that the apt layer of setup.sh
    (a parent of both) survives, and the previous run's images are removed after a
    successful build (podman rmi also removes their untagged parents that nothing else
    uses), so each run leaves one set of layers behind, not one more."""

    REPO_NAME = "localhost/supervise-dockerfile-test"

    @classmethod
    def setUpClass(cls):
        # Needs only the base image (fixture container.base), not the test images.
        cls.state = {"base": BASE_IMAGE}

    def build(self, *args):
        """podman build; prints how long it took and each step that took 5 s or more."""
        started = time.monotonic()
        process = subprocess.Popen(["podman", "build", "--pull=never", "--layers", "--build-arg",
                                    f"BASE={self.state['base']}", "-f", os.path.join(REPO, "packaging", "Dockerfile"),
                                    *args, REPO],
                                   env={**os.environ, "CONTAINERS_CONF": CONTAINERS_CONF}, text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        output, steps = [], []
        for line in process.stdout:
            output.append(line)
            if re.match(r"(\[\d+/\d+\] )?STEP \d+/\d+: ", line):
                steps.append((time.monotonic(), line.strip()))
        process.wait(timeout=60)
        ended = time.monotonic()
        cached = sum(line.startswith("--> Using cache") for line in output)
        print(f"podman build {' '.join(args)} -f packaging/Dockerfile: {ended - started:.1f} s, "
              f"{cached} steps from the cache", flush=True)
        for (at, step), following in zip(steps, [t for t, _ in steps[1:]] + [ended]):
            if following - at >= 5:
                print(f"  {following - at:6.1f} s  {step[:110]}", flush=True)
        self.assertEqual(process.returncode, 0, "".join(output)[-12000:])

    def image_id(self, tag):
        r = podman("image", "inspect", "--format", "{{.Id}}", tag, check=False)
        return r.stdout.strip() if r.returncode == 0 else None

    def test_build_and_run(self):
        stage1, image = f"{self.REPO_NAME}:build", f"{self.REPO_NAME}:latest"
        previous = {self.image_id(stage1), self.image_id(image)} - {None}
        self.build("--target", "build", "-t", stage1)
        self.build("-t", image)
        for old in previous - {self.image_id(stage1), self.image_id(image)}:
            podman("rmi", old, check=False)
        run = self.run_container("dockerfile", [], image=image)
        self.assertEqual(run.exit_code, 0, run)
        self.assertIn("hello from a task; PID 1 is supervise", run.stdout)
        run = self.run_container("dockerfile-exit", ["--", "sh", "-c", "exit 3"], image=image)
        self.assertEqual(run.exit_code, 3, run)
        run = self.run_container("dockerfile-version", ["--version"], image=image)
        want = subprocess.run([os.environ["SUPERVISE_BIN"], "--version"], capture_output=True, text=True).stdout
        self.assertEqual(run.stdout.strip(), want.strip(), run)


if __name__ == "__main__":
    main()

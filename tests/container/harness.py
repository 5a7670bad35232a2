"""Helpers of the container tests (tests/container): podman with the suite's
containers.conf, polling with deadlines, the images the fixture built, a TestCase base
class that names and removes its containers, and the status schemas.

Run with Debian's /usr/bin/python3 (python3-jsonschema, python3-yaml). See
docs/container-tests.md.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CONTAINERS_CONF = os.path.join(HERE, "containers.conf")
# Every container the suite starts carries this label (the cleanup test removes what a
# killed test run left behind).
LABEL = "org.supervise.container-test"
# The debootstrapped Debian 12 minbase that images.py imports (no registry is used).
BASE_IMAGE = "localhost/bookworm-min"

sys.path.insert(0, os.path.join(REPO, "tests", "schema"))
import validate as schema_validate  # noqa: E402  (tests/schema/validate.py)


def podman_env():
    env = dict(os.environ)
    env["CONTAINERS_CONF"] = CONTAINERS_CONF
    return env


def podman(*args, check=True, timeout=180, input=None):
    """Runs podman with the suite's containers.conf; returns the CompletedProcess (text)."""
    r = subprocess.run(["podman", *args], env=podman_env(), capture_output=True, text=True,
                       timeout=timeout, input=input)
    if check and r.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} exited {r.returncode}:\n{r.stdout}{r.stderr}")
    return r


def eventually(predicate, timeout, what, interval=0.1):
    """Polls predicate until it returns something true (returned), or fails after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(interval)


def run_label():
    """The label value of this build directory's containers: a cleanup removes only its own."""
    return hashlib.sha256(os.path.realpath(state_file()).encode()).hexdigest()[:12]


def state_file():
    path = os.environ.get("SUPERVISE_CONTAINER_STATE")
    if not path:
        raise SystemExit("SUPERVISE_CONTAINER_STATE is not set (ctest sets it; see docs/container-tests.md)")
    return path


def load_state():
    """What images.py (the fixture) built: {"image", "nocurl_image", "base", ...}."""
    path = state_file()
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as e:
        raise SystemExit(f"{path}: {e.strerror}: run the fixture container.images first") from e


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


_validators = {}


def schema_errors(document, compact=False):
    """Errors of document against schemas/status.schema.json (or the compact schema of the
    termination log), strictly as tests/schema/validate.py checks: a field the schema does
    not declare is an error."""
    name = "status-compact.schema.json" if compact else "status.schema.json"
    if name not in _validators:
        schemas = schema_validate.load_schemas(os.path.join(REPO, "schemas"))
        _validators[name] = schema_validate.validator_for(schemas, name, strict_mode=True)
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
            for e in _validators[name].iter_errors(document)]


class Run:
    """One container that ran to its end: podman run's exit status, the container's own
    exit code (podman inspect: tells the container's 125 from podman's own), its log."""

    def __init__(self, name, podman_rc, exit_code, stdout, stderr, seconds):
        self.name, self.podman_rc, self.exit_code = name, podman_rc, exit_code
        self.stdout, self.stderr, self.seconds = stdout, stderr, seconds

    @property
    def output(self):
        return self.stdout + self.stderr

    def __repr__(self):
        return (f"container {self.name}: podman run exited {self.podman_rc}, container exit code "
                f"{self.exit_code}, {self.seconds:.1f} s\n--- stdout\n{self.stdout}--- stderr\n{self.stderr}")


class ContainerTest(unittest.TestCase):
    """Base class: a temporary directory for volumes, unique container names, and every
    container it named removed at the end (podman rm -f), whatever happened."""

    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.state = load_state()
        cls.image = cls.state["image"]

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="supervise-ctr-")
        os.chmod(self.tmp, 0o755)
        self.names = []
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        if self.names:
            podman("rm", "-f", "-t", "0", *self.names, check=False, timeout=120)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def name(self, what):
        """A container name unique to this run, removed at the end of the test."""
        name = f"svtest-{what}-{uuid.uuid4().hex[:10]}"
        self.names.append(name)
        return name

    def directory(self, name, mode=0o755):
        path = os.path.join(self.tmp, name)
        os.makedirs(path, exist_ok=True)
        os.chmod(path, mode)
        return path

    def write(self, relative, text, mode=0o644):
        path = os.path.join(self.tmp, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def options(self, name, volumes=(), entrypoint=None, options=(), image=None):
        args = ["--name", name, "--label", f"{LABEL}={run_label()}", "--pull=never"]
        for host, inside in volumes:
            args += ["-v", f"{host}:{inside}"]
        if entrypoint:
            args += ["--entrypoint", entrypoint]
        return args + list(options) + [image or self.image]

    def run_container(self, what, args, volumes=(), entrypoint=None, options=(), image=None,
                      timeout=120):
        """podman run (attached) until the container ends; returns a Run."""
        name = self.name(what)
        started = time.monotonic()
        r = podman("run", *self.options(name, volumes, entrypoint, options, image), *args,
                   check=False, timeout=timeout)
        seconds = time.monotonic() - started
        return Run(name, r.returncode, self.exit_code(name), r.stdout, r.stderr, seconds)

    def start(self, what, args, volumes=(), entrypoint=None, options=(), image=None):
        """podman run -d; returns the container's name."""
        name = self.name(what)
        podman("run", "-d", *self.options(name, volumes, entrypoint, options, image), *args)
        return name

    def inspect(self, name):
        r = podman("inspect", "--type", "container", name, check=False)
        if r.returncode != 0:
            return None
        return json.loads(r.stdout)[0]

    def exit_code(self, name):
        """The container's exit code (None if podman never made the container)."""
        info = self.inspect(name)
        return None if info is None else info["State"]["ExitCode"]

    def running(self, name):
        info = self.inspect(name)
        return info is not None and info["State"]["Running"]

    def wait(self, name, timeout):
        """Waits for the container to end; returns its exit code."""
        r = podman("wait", name, timeout=timeout)
        return int(r.stdout.strip().splitlines()[-1])

    def logs(self, name):
        r = podman("logs", name, check=False)
        return r.stdout + r.stderr

    def wait_for_file(self, path, timeout=60, what=None):
        eventually(lambda: os.path.exists(path), timeout, what or f"{path} exists")

    def assertSchema(self, document, compact=False):
        errors = schema_errors(document, compact)
        self.assertEqual(errors, [], f"the {'termination log' if compact else 'status'} does not "
                         f"validate against schemas/:\n{json.dumps(document, indent=1)}")


def main():
    """unittest's main, with the suite's preconditions checked first."""
    if os.geteuid() != 0:
        raise SystemExit("the container tests run podman as root (see docs/container-tests.md)")
    if shutil.which("podman") is None:
        raise SystemExit("podman is not installed: scripts/setup.sh installs podman, runc, debootstrap")
    unittest.main(verbosity=2)

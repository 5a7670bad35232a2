#!/usr/bin/python3
"""The fixture of the container tests: the images they run, built without any registry.

  images.py base
  images.py setup   --build-dir DIR --state FILE
  images.py cleanup --state FILE

base (ctest: container.base, FIXTURES_SETUP container_base): step 1 alone, so that the
build of packaging/Dockerfile, which needs only the base, starts before step 2 is done.

setup (ctest: container.images, FIXTURES_SETUP container_images):
 1. The base image localhost/bookworm-min: if podman does not have it, it is imported
    from a cached root file system (CACHE/bookworm-minbase.tar), which is made once per
    machine with `debootstrap --variant=minbase bookworm` from the machine's own Debian
    mirror (read from /etc/apt/sources.list{,.d}).
 2. The project's .deb: `cpack -G DEB` from the build directory under test, into
    deb/ (its own directory; scripts/package.sh, which CI runs after ctest,
    makes and checks the one in DIR) beside FILE. cpack builds the `preinstall` target first, that
    is everything: after scripts/build.sh (as in scripts/test.sh) that is a no-op.
 3. localhost/supervise-test:KEY and localhost/supervise-test-nocurl:KEY from
    tests/container/Containerfile, KEY a digest of the package's contents (files, modes,
    control fields: not cpack's time stamps), the Containerfile and the base image. An
    image with that KEY is reused; older keys are removed (the 2 newest are kept, for a
    second build directory).
 4. FILE (JSON) names the images for the scenarios.

cleanup (container.cleanup, FIXTURES_CLEANUP): removes the containers of this build
directory's runs that a killed test left behind (label org.supervise.container-test).

CACHE is /var/cache/supervise-tests, or $SUPERVISE_CONTAINER_CACHE. Each step prints
what it did and how long it took. See docs/container-tests.md.
"""

import argparse
import fcntl
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from harness import BASE_IMAGE, CONTAINERS_CONF, HERE, LABEL, podman, podman_env, run_label

TEST_REPO = "localhost/supervise-test"
NOCURL_REPO = "localhost/supervise-test-nocurl"
SUITE = "bookworm"


def log(message):
    print(f"images: {message}", flush=True)


def timed(what, function):
    started = time.monotonic()
    result = function()
    log(f"{what}: {time.monotonic() - started:.1f} s")
    return result


def debian_mirror():
    """The machine's configured Debian mirror (the first source of the main archive for
    bookworm), from one-line .list files and deb822 .sources files."""
    if os.environ.get("SUPERVISE_DEBIAN_MIRROR"):
        return os.environ["SUPERVISE_DEBIAN_MIRROR"]
    candidates = []
    files = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")) + \
        sorted(glob.glob("/etc/apt/sources.list.d/*.sources"))
    for path in files:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError:
            continue
        if path.endswith(".sources"):
            for stanza in re.split(r"\n\s*\n", text):
                fields = {}
                for line in stanza.splitlines():
                    if line.startswith("#") or ":" not in line:
                        continue
                    key, value = line.split(":", 1)
                    fields[key.strip().lower()] = value.split()
                if "deb" in fields.get("types", []) and fields.get("enabled", ["yes"])[0] != "no":
                    for uri in fields.get("uris", []):
                        candidates.append((uri, fields.get("suites", [])))
        else:
            for line in text.splitlines():
                words = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
                if len(words) >= 3 and words[0] == "deb":
                    candidates.append((words[1], [words[2]]))
    for uri, suites in candidates:
        if SUITE in suites and "security" not in uri:
            return uri.rstrip("/")
    raise SystemExit(f"no Debian mirror for {SUITE} in {', '.join(files)} (set SUPERVISE_DEBIAN_MIRROR)")


def run(argv, log_path=None, **kw):
    """Runs argv; on failure shows its output (or the log's tail) and stops the fixture."""
    if log_path:
        with open(log_path, "w", encoding="utf-8") as out:
            r = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, **kw)
        if r.returncode != 0:
            with open(log_path, encoding="utf-8", errors="replace") as f:
                tail = f.read()[-6000:]
            raise SystemExit(f"{' '.join(argv)} exited {r.returncode}; the end of {log_path}:\n{tail}")
        return r
    r = subprocess.run(argv, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {r.returncode}:\n{r.stdout}{r.stderr}")
    return r


def rootfs_tarball(cache):
    """CACHE/bookworm-minbase.tar: made once per machine with debootstrap."""
    tarball = os.path.join(cache, f"{SUITE}-minbase.tar")
    if os.path.exists(tarball):
        log(f"root file system: cached {tarball}")
        return tarball
    mirror = debian_mirror()
    rootfs = tempfile.mkdtemp(prefix="rootfs-", dir=cache)
    try:
        log(f"root file system: debootstrap --variant=minbase {SUITE} {rootfs} {mirror}")
        timed("debootstrap", lambda: run(["debootstrap", "--variant=minbase", SUITE, rootfs, mirror],
                                         log_path=os.path.join(cache, "debootstrap.log")))
        partial = tarball + ".partial"
        timed("tar of the root file system", lambda: run(["tar", "-C", rootfs, "-cf", partial, "."]))
        os.rename(partial, tarball)
        with open(tarball + ".json", "w", encoding="utf-8") as f:
            json.dump({"suite": SUITE, "variant": "minbase", "mirror": mirror,
                       "made": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, f)
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)
    return tarball


def base_image(cache):
    if podman("image", "exists", BASE_IMAGE, check=False).returncode == 0:
        log(f"base image: {BASE_IMAGE} present")
        return
    tarball = rootfs_tarball(cache)
    timed(f"podman import {tarball} {BASE_IMAGE}",
          lambda: podman("import", "--change", 'CMD ["/bin/bash"]', "--message",
                         f"debootstrap --variant=minbase {SUITE}", tarball, BASE_IMAGE, timeout=600))


def make_deb(build_dir, out_dir):
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    timed("cpack -G DEB", lambda: run(["cpack", "-G", "DEB", "-B", out_dir],
                                      log_path=os.path.join(out_dir, "cpack.log"), cwd=build_dir))
    debs = glob.glob(os.path.join(out_dir, "supervise_*.deb"))
    if len(debs) != 1:
        raise SystemExit(f"cpack made {len(debs)} supervise_*.deb in {out_dir}")
    return debs[0]


def deb_digest(deb):
    """A digest of what the package installs and declares, not of cpack's time stamps."""
    h = hashlib.sha256()
    h.update(run(["dpkg-deb", "-f", deb]).stdout.encode())
    with tempfile.TemporaryDirectory() as root:
        run(["dpkg-deb", "-x", deb, root])
        for directory, dirs, files in sorted(os.walk(root)):
            dirs.sort()
            for name in sorted(files):
                path = os.path.join(directory, name)
                st = os.lstat(path)
                h.update(f"{os.path.relpath(path, root)}\0{st.st_mode:o}\0".encode())
                if os.path.islink(path):
                    h.update(os.readlink(path).encode())
                else:
                    with open(path, "rb") as f:
                        h.update(hashlib.sha256(f.read()).digest())
    return h.hexdigest()


def image_id(image):
    return podman("image", "inspect", "--format", "{{.Id}}", image).stdout.strip()


def build_images(deb, context):
    with open(os.path.join(HERE, "Containerfile"), "rb") as f:
        containerfile = f.read()
    key = hashlib.sha256(deb_digest(deb).encode() + containerfile + image_id(BASE_IMAGE).encode()).hexdigest()[:16]
    images = {"image": f"{TEST_REPO}:{key}", "nocurl_image": f"{NOCURL_REPO}:{key}"}
    for field, target in (("nocurl_image", "nocurl"), ("image", "test")):
        image = images[field]
        if podman("image", "exists", image, check=False).returncode == 0:
            log(f"{image}: present (same package, Containerfile and base)")
            continue
        shutil.rmtree(context, ignore_errors=True)
        os.makedirs(context)
        shutil.copy(deb, os.path.join(context, "supervise.deb"))
        timed(f"podman build --target {target} -t {image}",
              lambda: run(["podman", "build", "--pull=never", "--layers", "--build-arg", f"BASE={BASE_IMAGE}",
                           "--target", target, "-t", image, "-f", os.path.join(HERE, "Containerfile"), context],
                          log_path=context + f".{target}.log", env=podman_env()))
    for repo in (TEST_REPO, NOCURL_REPO):
        prune(repo, keep=images["image" if repo == TEST_REPO else "nocurl_image"])
    return images, key


def prune(repo, keep):
    """Removes older tags of repo: keep, and the 2 newest others (another build directory's)."""
    r = podman("images", "--filter", f"reference={repo}", "--format", "{{.Repository}}:{{.Tag}}\t{{.CreatedAt}}",
               check=False)
    rows = [line.split("\t") for line in r.stdout.splitlines() if "\t" in line]
    others = [tag for tag, _ in sorted(rows, key=lambda row: row[1], reverse=True) if tag != keep]  # newest first
    for tag in others[2:]:
        if podman("rmi", tag, check=False).returncode == 0:  # an image a container uses stays
            log(f"removed the old image {tag}")


def preconditions(tools):
    if os.geteuid() != 0:
        raise SystemExit("the container tests run podman as root")
    for tool in tools:
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed (scripts/setup.sh installs it)")
    cache = os.environ.get("SUPERVISE_CONTAINER_CACHE", "/var/cache/supervise-tests")
    os.makedirs(cache, exist_ok=True)
    return cache


def locked(cache):
    """One fixture at a time per machine (build directories share the cache and base)."""
    lock = open(os.path.join(cache, "lock"), "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    return lock


def base(args):
    cache = preconditions(("podman", "runc", "debootstrap", "tar"))
    started = time.monotonic()
    with locked(cache):
        base_image(cache)
    log(f"{BASE_IMAGE} ready in {time.monotonic() - started:.1f} s")


def setup(args):
    cache = preconditions(("podman", "runc", "cpack", "dpkg-deb", "tmux"))
    build_dir = os.path.realpath(args.build_dir)
    work = os.path.dirname(os.path.realpath(args.state))  # the package, the context, the logs
    os.makedirs(work, exist_ok=True)
    started = time.monotonic()
    with locked(cache):
        base_image(cache)  # present after container.base; made here when run alone
        deb = make_deb(build_dir, os.path.join(work, "deb"))
        images, key = build_images(deb, os.path.join(work, "context"))
    # The package holds the binary of this build directory.
    want = run([os.path.join(build_dir, "supervise"), "--version"]).stdout.strip()
    got = podman("run", "--rm", "--pull=never", images["image"], "--version").stdout.strip()
    if got != want:
        raise SystemExit(f"{images['image']} says '{got}', the build directory's supervise '{want}'")
    state = {"base": BASE_IMAGE, **images, "key": key, "deb": deb, "containers_conf": CONTAINERS_CONF,
             "cache": cache, "version": got}
    partial = args.state + ".partial"
    with open(partial, "w", encoding="utf-8") as f:
        json.dump(state, f, indent=1)
    os.rename(partial, args.state)
    log(f"ready in {time.monotonic() - started:.1f} s: {json.dumps(state)}")


def cleanup(args):
    if not args.state:
        raise SystemExit("cleanup needs --state")
    os.environ["SUPERVISE_CONTAINER_STATE"] = args.state
    label = f"{LABEL}={run_label()}"
    r = podman("ps", "-a", "-q", "--filter", f"label={label}")
    ids = r.stdout.split()
    if ids:
        podman("rm", "-f", "-t", "0", *ids, timeout=300)
    log(f"removed {len(ids)} container(s) left behind with label {label}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=("base", "setup", "cleanup"))
    parser.add_argument("--build-dir")
    parser.add_argument("--state")
    args = parser.parse_args()
    if args.command == "base":
        base(args)
    elif args.command == "setup":
        if not args.build_dir:
            parser.error("setup needs --build-dir")
        setup(args)
    else:
        cleanup(args)


if __name__ == "__main__":
    sys.exit(main())

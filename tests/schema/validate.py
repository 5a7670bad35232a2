#!/usr/bin/python3
"""Checks schemas/ against what supervise really writes and reads.

  validate.py statuses --schemas DIR --archive DIR --min N --min-compact N
      Every status document archived by the integration tests (tests/support/harness.cpp,
      SUPERVISE_STATUS_ARCHIVE) must validate: *.status.json against status.schema.json,
      *.compact.json (the termination log) against status-compact.schema.json. Strictly:
      a field the schema does not declare is an error here (the shipped schemas let
      readers ignore unknown fields; the project must declare every field it writes).
      At least N distinct documents must have been checked, so the test cannot pass on
      an empty archive.

  validate.py specs --schemas DIR --repo DIR --supervise BIN
      Every valid spec fixture (tests/testdata, examples, the Kubernetes ConfigMap) must
      validate against task.schema.json; every invalid fixture that is a schema-level
      error must be rejected; and on a table of values (durations, exit codes, modes,
      paths, URLs) the schema must agree with `supervise --validate`.

Run with Debian's /usr/bin/python3 (python3-jsonschema, python3-yaml).
"""

import argparse
import copy
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile

import jsonschema
import yaml

SCHEMA_FILES = ("task.schema.json", "status.schema.json", "status-compact.schema.json")


def load_schemas(directory):
    schemas = {}
    for name in SCHEMA_FILES:
        with open(os.path.join(directory, name), encoding="utf-8") as f:
            schema = json.load(f)
        jsonschema.Draft202012Validator.check_schema(schema)
        for required in ("$id", "title", "description"):
            if required not in schema:
                raise SystemExit(f"{name}: no {required}")
        schemas[name] = schema
    return schemas


def strict(schema, is_root=True):
    """A copy in which every object schema with declared properties admits no other
    property (unevaluatedProperties: false). Document roots are left open: their
    strictness is applied by the caller around the $ref, so that the compact schema
    can add its fields to the status document's."""
    if isinstance(schema, list):
        return [strict(s, False) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v, False) for k, v in schema.items()}
    declares = "properties" in schema and schema.get("type") == "object"
    open_ended = "additionalProperties" in schema or "unevaluatedProperties" in schema
    if declares and not open_ended and not is_root:
        out["unevaluatedProperties"] = False
    return out


def validator_for(schemas, name, strict_mode=False):
    if strict_mode:
        schemas = {n: strict(s) for n, s in schemas.items()}
        root = {"$id": "urn:supervise-test:strict", "$ref": schemas[name]["$id"], "unevaluatedProperties": False}
    else:
        root = schemas[name]
    store = {s["$id"]: s for s in schemas.values()}
    resolver = jsonschema.RefResolver(base_uri=root["$id"], referrer=root, store=store)
    return jsonschema.Draft202012Validator(root, resolver=resolver)


def shorten(text, limit=240):
    return text if len(text) <= limit else text[:limit] + "..."


def errors_of(validator, document):
    """Violations as (JSON path, message). For a oneOf/anyOf that nothing matched, the
    deepest cause is named. jsonschema 4.10 also reports a property whose value is
    invalid as "unevaluated" in the object holding it, and every property of an object
    that matched no branch of a oneOf: such echoes are dropped, and an
    unevaluatedProperties error keeps only the properties that are really undeclared."""
    errors = list(validator.iter_errors(document))
    paths = [(list(e.absolute_path), e.validator) for e in errors]
    out = []
    for error in sorted(errors, key=lambda e: list(map(str, e.absolute_path))):
        path = list(error.absolute_path)
        message = error.message
        if error.validator == "unevaluatedProperties":
            listed = re.findall(r"'((?:[^'\\]|\\.)*)'", message.split("(", 1)[-1])
            undeclared = [k for k in listed if not any(p[:len(path) + 1] == path + [k] for p, _ in paths)]
            if not undeclared or any(p == path and v in ("oneOf", "anyOf") for p, v in paths):
                continue
            message = "undeclared properties: " + ", ".join(undeclared)
        leaves = [error]
        while any(leaf.context for leaf in leaves):
            leaves = [c for leaf in leaves for c in (leaf.context or [leaf])]
        if leaves != [error]:
            deepest = max(leaves, key=lambda e: (len(e.absolute_path), e.validator != "type"))
            message = f"{shorten(message)} (deepest cause: {deepest.json_path}: {shorten(deepest.message)})"
        out.append((error.json_path, shorten(message, 600)))
    return out


# ---- statuses --------------------------------------------------------------------------


def check_statuses(args):
    schemas = load_schemas(args.schemas)
    full = validator_for(schemas, "status.schema.json", strict_mode=True)
    compact = validator_for(schemas, "status-compact.schema.json", strict_mode=True)
    if not os.path.isdir(args.archive):
        print(f"FAIL: no archive at {args.archive}: did the integration tests run with SUPERVISE_STATUS_ARCHIVE?")
        return 1
    seen = {}  # sha256 -> file, so a document read twice counts once
    counts = {"status": 0, "compact": 0}
    failures = 0
    shapes = set()  # what the suite exercised, for the summary
    for name in sorted(os.listdir(args.archive)):
        if name.endswith(".status.json"):
            kind, validator = "status", full
        elif name.endswith(".compact.json"):
            kind, validator = "compact", compact
        else:
            continue
        path = os.path.join(args.archive, name)
        with open(path, "rb") as f:
            raw = f.read()
        digest = hashlib.sha256(raw).hexdigest()
        if digest in seen:
            continue
        seen[digest] = name
        counts[kind] += 1
        problems = []
        try:
            document = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            document = None
            problems.append(("$", f"not JSON: {e}"))
        if kind == "compact":
            if len(raw) > 4096:
                problems.append(("$", f"{len(raw)} bytes, more than the 4096 Kubernetes reads"))
            if b"\n" in raw:
                problems.append(("$", "more than one line"))
        if document is not None:
            problems += errors_of(validator, document)
            shapes.update(shape_of(document))
        for where, message in problems:
            failures += 1
            print(f"FAIL {path}: {where}: {message}")
    total = counts["status"] + counts["compact"]
    print(f"checked {total} distinct status documents ({counts['status']} status files against "
          f"status.schema.json, {counts['compact']} termination logs against status-compact.schema.json)")
    print("exercised: " + ", ".join(sorted(shapes)))
    if total < args.min:
        print(f"FAIL: fewer than {args.min} documents: the archive is not what the integration tests read")
        failures += 1
    if counts["compact"] < args.min_compact:
        print(f"FAIL: fewer than {args.min_compact} termination logs")
        failures += 1
    return 1 if failures else 0


def shape_of(document):
    """Which variants of the document this one shows (printed, so a reader can see what
    the validated set covers)."""
    out = {f"action={document.get('action')}"}
    for field in ("signal", "error", "stop", "started_at", "matched_rule", "task"):
        if field in document:
            out.add(f"{field}={'null' if document[field] is None else 'set'}")
    if document.get("checkpoints"):
        out.add("checkpoints")
        for c in document["checkpoints"]:
            out.add("final=null" if c.get("final") is None else f"final.ok={c['final'].get('ok')}")
    if document.get("truncated"):
        out.add("truncated" if "task" in document else "truncated-minimal")
    if "oom_kills" in document:
        out.add(f"oom_kills={'null' if document['oom_kills'] is None else 'set'}")
    if document.get("oom_killed"):
        out.add("oom_killed")
    if document.get("resources"):
        out.add("resources")
    if document.get("supervisor_exit_code") != document.get("exit_code"):
        out.add("exit-code-from-action")
    return out


# ---- task specs ------------------------------------------------------------------------

# Invalid fixtures (tests/testdata/invalid) that the schema rejects: errors of shape or
# syntax.
REJECTED_BY_SCHEMA = {
    "empty.yaml": "no document: not an object",
    "not-a-map.yaml": "a list, not an object",
    "frequency-not-duration.yaml": "duration pattern",
    "checkpoint-missing-url.yaml": "required",
    "checkpoint-unknown-key.yaml": "additionalProperties: false",
    "checkpoint-url-scheme.yaml": "url pattern",
    "checkpoint-url-relative.yaml": "url pattern",
    "file-unknown-key.yaml": "additionalProperties: false",
    "file-relative-path.yaml": "path pattern",
    "file-dotdot-path.yaml": "path pattern",
    "file-base64.yaml": "contents pattern when base64 is true",
    "file-mode.yaml": "mode pattern",
    "exit-action-unknown.yaml": "propertyNames",
    "missing-command.yaml": "required",
    "command-type.yaml": "command type",
    "command-number.yaml": "command type (strings only)",
    "args-item-number.yaml": "args item type (strings only)",
    "file-mode-unquoted.yaml": "mode type (a string)",
    "merged-value.yaml": "duration pattern, once the merge key is resolved",
    "environment-type.yaml": "environment type",
    "several-problems.yaml": "path and duration patterns",
}

# Invalid fixtures the schema cannot reject (it accepts them; only supervise --validate
# finds the problem), and why.
NOT_EXPRESSIBLE = {
    "frequency-too-short.yaml": "a duration string's value (500ms < 1s) is beyond a pattern",
    "checkpoint-regex.yaml": "RE2 syntax is not JSON Schema's regex format",
    "file-duplicate-path.yaml": "uniqueness after path normalisation",
    "checkpoint-same-place.yaml": "two entries' url + basename of path storing to the same keys: a relation between values",
    "checkpoint-store-inside-path.yaml": "a file:// url's directory inside the entry's path: a relation between values",
    "exit-action-overlap.yaml": "codes covered by two actions: a relation between values",
    "exit-action-oom-twice.yaml": "the item OOM in two actions: a relation between values",
    "exit-action-twice.yaml": "the same key in two letter cases",
    "exit-action-codes.yaml": "a range that runs backwards (10-1)",
    "two-tasks.yaml": "which task to run is the command line's business (--validate accepts it too)",
    "deep-flow-nesting.yaml": "nesting depth",
    "deep-block-nesting.yaml": "nesting depth",
    "deep-nesting.json": "nesting depth",
    "duplicate-key.yaml": "a key given twice: the parsed document holds only one of them",
    "duplicate-key.json": "a key given twice: the parsed document holds only one of them",
}

# Not documents at all: the parser rejects them before any schema applies.
NOT_PARSEABLE = {
    "yaml-syntax.yaml": "YAML syntax",
    "json-syntax.json": "JSON syntax",
    "invalid-utf8.yaml": "not UTF-8 text",
    "invalid-utf8.json": "not UTF-8 text (an encoded surrogate)",
    "second-document.yaml": "two YAML documents (safe_load wants one)",
    "merge-key-not-a-map.yaml": "a merge key whose value is no map",
}


def load_spec_text(text):
    """As supervise tells them: JSON when the first non-blank character is { or [."""
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped[:1] in ("{", "["):
        return json.loads(text)
    return yaml.safe_load(text)


def load_spec(path):
    with open(path, encoding="utf-8") as f:
        return load_spec_text(f.read())


def valid_spec_documents(repo):
    """(label, document) for every spec that supervise must accept."""
    testdata = os.path.join(repo, "tests", "testdata")
    for name in sorted(os.listdir(testdata)):
        if name.endswith((".yaml", ".json")):
            yield os.path.join(testdata, name), load_spec(os.path.join(testdata, name))
    examples = os.path.join(repo, "examples")
    for name in sorted(os.listdir(examples)):
        if name.endswith((".yaml", ".json")):
            yield os.path.join(examples, name), load_spec(os.path.join(examples, name))
    configmap = os.path.join(repo, "packaging", "kubernetes", "configmap.yaml")
    if os.path.exists(configmap):
        with open(configmap, encoding="utf-8") as f:
            for doc in yaml.safe_load_all(f):
                if doc and doc.get("kind") == "ConfigMap":
                    for key, text in doc.get("data", {}).items():
                        yield f"{configmap}: data.{key}", load_spec_text(text)


# (what, spec fragment as YAML, schema verdict). Each spec is also given to
# `supervise --validate`: the two must agree unless the case says "looser" (the schema
# accepts what only supervise can reject) or "stricter" (the schema asks for a form
# supervise also takes, such as a quoted mode).
BASE = "command: [/bin/true]\n"
AGREEMENT_CASES = [
    # durations (checkpoint frequency)
    *[(f"frequency {v}", f"checkpoint: [{{path: /tmp/c, url: 'file:///tmp/s', frequency: {v}}}]", True)
      for v in ("60", "1.5", "'60'", "' 30s '", "30m", "1h30m", "1.5h", "1500ms", "2d", "1d2h3m4s5ms",
                "PT1H30M", "P1D", "P1W", "PT1.5S", "P1DT2H", "'.5m'", "'5.m'", "1e3", "'1.5E+2'",
                "6.0e+1")],
    *[(f"frequency {v}", f"checkpoint: [{{path: /tmp/c, url: 'file:///tmp/s', frequency: {v}}}]", False)
      for v in ("5x", "-5s", "0.5", "0", "-1", "''", "1h30", "P", "PT", "P1DT", "P1Y", "P1M", "PT1H1D",
                "1 h", "h", "ms", "1e3s", "'1e'", "e3", "-1e3", "100000000000", "true", "null")],
    ("frequency 500ms (below 1s)", "checkpoint: [{path: /tmp/c, url: 'file:///tmp/s', frequency: 500ms}]", "looser"),
    ("frequency 0s", "checkpoint: [{path: /tmp/c, url: 'file:///tmp/s', frequency: 0s}]", "looser"),
    # exit codes
    *[(f"exit codes {v}", f"exitActions: {{RESCHEDULE: {v}}}", True)
      for v in ("0", "255", "'1-255'", "'1, 2 ,3'", "' 1 - 5 '", "SIGKILL", "kill", "'SIGHUP-SIGKILL'",
                "'1-SIGKILL'", "'007'", "'SIGRTMIN+2'", '"\\t9\\t"', "'128-255'")],
    *[(f"exit codes {v}", f"exitActions: {{RESCHEDULE: {v}}}", False)
      for v in ("256", "-1", "'1,,2'", "'1-23-4'", "''", "' '", "1.5", "null", "'1-'", "'-1'", "[1, 2]", "'1;2'")],
    ("exit codes 10-1 (backwards)", "exitActions: {RESCHEDULE: '10-1'}", "looser"),
    ("exit codes NOSUCHSIGNAL", "exitActions: {RESCHEDULE: NOSUCHSIGNAL}", "looser"),
    *[(f"exit codes {v}", f"exitActions: {{RESCHEDULE: 1-200, FAIL: {v}}}", True)
      for v in ("OOM", "oom", "'OOM, 202'", "' 203 , Oom '")],
    ("exit codes 1-OOM (OOM in a range)", "exitActions: {FAIL: '1-OOM'}", "looser"),
    ("OOM in two actions", "exitActions: {FAIL: OOM, RESCHEDULE: 'OOM, 1'}", "looser"),
    ("action keys in any case", "exitActions: {complete: 0, Reschedule: 1-255}", True),
    ("unknown action", "exitActions: {RETRY: 1}", False),
    ("exitActions null", "exitActions: null", True),
    ("exitActions a list", "exitActions: [COMPLETE]", False),
    # files
    *[(f"mode {v}", f"files: [{{path: /tmp/f, mode: {v}}}]", True)
      for v in ("'0755'", "'755'", "'0o755'", "'0O644'", "'0'", "'07777'", "'7777'", "null")],
    *[(f"mode {v}", f"files: [{{path: /tmp/f, mode: {v}}}]", False)
      for v in ("'0999'", "'17777'", "'0o'", "''", "'rwx'", "'000755'")],
    ("mode 755 unquoted", "files: [{path: /tmp/f, mode: 755}]", False),
    *[(f"file path {v}", f"files: [{{path: '{v}'}}]", True)
      for v in ("/tmp/a", "/tmp/./a", "/tmp/.../a", "/tmp//a", "/a..b")],
    *[(f"file path {v}", f"files: [{{path: '{v}'}}]", False)
      for v in ("tmp/a", "", "/", "/tmp/", "/tmp/..", "/tmp/../a", "/tmp/.", "/..")],
    ("file without path", "files: [{contents: x}]", False),
    ("base64 contents", "files: [{path: /tmp/f, base64: true, contents: 'c3VwZXJ2aXNl'}]", True),
    ("base64 with line breaks", "files: [{path: /tmp/f, base64: true, contents: \"c3Vw\\nZXI=\\n\"}]", True),
    ("base64 'True' string", "files: [{path: /tmp/f, base64: 'True', contents: 'c3Vw'}]", True),
    ("base64 bad", "files: [{path: /tmp/f, base64: true, contents: 'a*b'}]", False),
    ("base64 not a boolean", "files: [{path: /tmp/f, base64: yes please}]", False),
    ("not base64, any contents", "files: [{path: /tmp/f, contents: 'a*b'}]", True),
    ("files null", "files: null", True),
    # checkpoint entries
    *[(f"url {v}", f"checkpoint: [{{path: /tmp/c, url: '{v}', frequency: 60}}]", True)
      for v in ("file:///tmp/s", "FILE:///tmp/s", "s3://bucket", "s3://bucket/", "s3://my.bucket-1/a/b",
                "S3://abc/x", "gs://my_bucket/x", "GS://bucket", "azure://acct1/my-container/x",
                "azure://devstoreaccount1/ckpt", "tos://tos-s3-cn-beijing.volces.com/bucket/p",
                "tos://localhost:9000/bucket", "swift://swift.example.com/AUTH_team/bucket/run")],
    *[(f"url {v}", f"checkpoint: [{{path: /tmp/c, url: '{v}', frequency: 60}}]", False)
      for v in ("file://tmp/s", "gcs://b/x", "gs://Bucket/x", "azure://acct", "azure://Acct/c0nt",
                "azure://acct/a--b", "tos://bucket", "tos://host_1/bucket", "swift://host/AUTH_a",
                "swift://host/a;b/bucket", "s3://ab", "s3://Bucket/x", "s3://bucket_1", "s3://-bucket",
                "s3://a..b", "s3://user@bucket/x", "s3://", "/tmp/s", "")],
    ("checkpoint path /", "checkpoint: [{path: /, url: 'file:///tmp/s', frequency: 60}]", False),
    ("checkpoint path /..", "checkpoint: [{path: /.., url: 'file:///tmp/s', frequency: 60}]", False),
    ("checkpoint relative path", "checkpoint: [{path: data, url: 'file:///tmp/s', frequency: 60}]", True),
    ("checkpoint without frequency", "checkpoint: [{path: /tmp/c, url: 'file:///tmp/s'}]", False),
    ("checkpoint null frequency", "checkpoint: [{path: /tmp/c, url: 'file:///tmp/s', frequency: null}]", False),
    ("checkpoint regex", "checkpoint: [{path: /tmp/c, url: 'file:///tmp/s', frequency: 60, regex: '.*\\.pt$'}]", True),
    ("checkpoint a map", "checkpoint: {path: /tmp/c}", False),
    ("checkpoint restore", "checkpoint: [{path: /tmp/c, url: 'file:///tmp/s', frequency: 60, restore: true}]", True),
    ("checkpoint restore 'False'", "checkpoint: [{path: /tmp/c, url: 'file:///tmp/s', frequency: 60, restore: 'False'}]", True),
    ("checkpoint restore yes please", "checkpoint: [{path: /tmp/c, url: 'file:///tmp/s', frequency: 60, restore: yes please}]", False),
    ("checkpoint restore 1", "checkpoint: [{path: /tmp/c, url: 'file:///tmp/s', frequency: 60, restore: 1}]", False),
    # the rest of a task
    ("environment values", "environment: {A: x, B: 1, C: true, D: null}", True),
    ("environment a nested map", "environment: {A: {B: c}}", False),
    ("environment name with =", "environment: {'A=B': x}", False),
    ("args a string", "args: hello", True),
    ("args numbers", "args: [--epochs, 10]", False),
    ("args quoted numbers", "args: [--epochs, '10']", True),
    ("args null", "args: null", False),
    ("args item null", "args: [a, null]", False),
    ("args a boolean", "args: true", False),
    ("command a number", "command: 5", False),
    ("command item a boolean", "command: [/bin/echo, true]", False),
    ("command a quoted number", "command: '5'", True),
    ("merge key in an entry", "x: &c {path: /tmp/c, url: 'file:///tmp/s'}\ncheckpoint: [{<<: *c, frequency: 60}]", True),
    ("merged value wrong", "x: &c {path: /tmp/c, url: 'file:///tmp/s', frequency: 5x}\ncheckpoint: [{<<: *c}]", False),
    ("args nested", "args: [[a]]", False),
    ("OSMO fields", "image: ubuntu\nresources: {cpu: 1}\ncredentials: {c: {K: v}}", True),
]


def agreement(schemas, supervise):
    validator = validator_for(schemas, "task.schema.json")
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        spec = os.path.join(tmp, "spec.yaml")
        for what, fragment, verdict in AGREEMENT_CASES:
            # A fragment that gives its own command replaces BASE's (else the key would be
            # given twice, which supervise rejects for its own reason).
            text = ("" if fragment.startswith("command:") else BASE) + fragment + "\n"
            document = yaml.safe_load(text)
            schema_ok = not list(validator.iter_errors(document))
            with open(spec, "w", encoding="utf-8") as f:
                f.write(text)
            run = subprocess.run([supervise, "--validate", "--spec", spec], capture_output=True, text=True,
                                 timeout=30)
            supervise_ok = run.returncode == 0
            expected_schema = verdict is True or verdict == "looser"
            expected_supervise = verdict is True or verdict == "stricter"
            if schema_ok != expected_schema or supervise_ok != expected_supervise:
                failures += 1
                print(f"FAIL agreement: {what}: schema {'accepts' if schema_ok else 'rejects'}, "
                      f"supervise {'accepts' if supervise_ok else 'rejects'}, expected "
                      f"{verdict!r}\n  spec: {text!r}\n  supervise: {run.stderr.strip()}")
    print(f"schema and supervise --validate agree on {len(AGREEMENT_CASES) - failures} of "
          f"{len(AGREEMENT_CASES)} specs")
    return failures


def check_specs(args):
    schemas = load_schemas(args.schemas)
    validator = validator_for(schemas, "task.schema.json")
    failures = 0
    valid = 0
    for label, document in valid_spec_documents(args.repo):
        valid += 1
        for where, message in errors_of(validator, document):
            failures += 1
            print(f"FAIL {label}: {where}: {message}")
    print(f"{valid} valid specs (tests/testdata, examples, packaging/kubernetes) checked")
    if valid < 8:
        print("FAIL: fewer valid specs than expected")
        failures += 1

    invalid_dir = os.path.join(args.repo, "tests", "testdata", "invalid")
    listed = set(REJECTED_BY_SCHEMA) | set(NOT_EXPRESSIBLE) | set(NOT_PARSEABLE)
    present = {n for n in os.listdir(invalid_dir) if n != "README.md"}
    for name in sorted(present - listed):
        failures += 1
        print(f"FAIL {invalid_dir}/{name}: not classified in validate.py (REJECTED_BY_SCHEMA, "
              f"NOT_EXPRESSIBLE or NOT_PARSEABLE)")
    for name in sorted(listed - present):
        failures += 1
        print(f"FAIL {invalid_dir}/{name}: listed in validate.py but missing")
    for name in sorted(present & listed):
        path = os.path.join(invalid_dir, name)
        try:
            document = load_spec(path)
        except (yaml.YAMLError, json.JSONDecodeError, UnicodeDecodeError) as e:
            if name not in NOT_PARSEABLE:
                failures += 1
                print(f"FAIL {path}: does not parse: {e}")
            continue
        if name in NOT_PARSEABLE:
            failures += 1
            print(f"FAIL {path}: parses, though listed as not parseable")
            continue
        errors = errors_of(validator, document)
        if name in REJECTED_BY_SCHEMA and not errors:
            failures += 1
            print(f"FAIL {path}: accepted by the schema ({REJECTED_BY_SCHEMA[name]} should reject it)")
        if name in NOT_EXPRESSIBLE and errors:
            failures += 1
            print(f"FAIL {path}: now rejected by the schema ({errors[0][0]}: {errors[0][1]}); "
                  f"move it to REJECTED_BY_SCHEMA")
    print(f"{len(present)} invalid fixtures: {len(REJECTED_BY_SCHEMA)} rejected by the schema, "
          f"{len(NOT_EXPRESSIBLE)} beyond it, {len(NOT_PARSEABLE)} not parseable")
    failures += agreement(schemas, args.supervise)
    return 1 if failures else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("statuses")
    s.add_argument("--schemas", required=True)
    s.add_argument("--archive", required=True)
    s.add_argument("--min", type=int, default=100)
    s.add_argument("--min-compact", type=int, default=1)
    t = sub.add_parser("specs")
    t.add_argument("--schemas", required=True)
    t.add_argument("--repo", required=True)
    t.add_argument("--supervise", required=True)
    args = parser.parse_args()
    return check_statuses(args) if args.command == "statuses" else check_specs(args)


if __name__ == "__main__":
    sys.exit(main())

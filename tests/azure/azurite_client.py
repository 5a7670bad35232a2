#!/usr/bin/env python3
"""Azure Blob REST for the azure:// tests, standard library only: reads Azurite directly
(SharedKey-signed requests) so that a test judges the store by what it holds, and makes
SAS tokens for the tests' rounds. Test tooling, not a client of the project's.

    azurite_client.py --endpoint http://127.0.0.1:PORT/devstoreaccount1 \\
                      [--account devstoreaccount1] [--key BASE64] COMMAND ...

    create-container CONTAINER          201, or 409 when it is there already: exit 0
    list CONTAINER [--prefix P]         JSON list: name, size, etag, last_modified
    get CONTAINER BLOB --out FILE       the blob's bytes; exit 3 when there is none
    mirror CONTAINER --prefix P --out DIR  every blob under P to DIR/<name below P>
                                        (names ending in '/' or with '..' are skipped)
    put CONTAINER BLOB --file FILE      Put Blob (a block blob) of the file's bytes
    blocklist CONTAINER BLOB            JSON {"committed": [...], "uncommitted": [...]},
                                        each {"name", "size"}; exit 3 when no blob
    account-sas [--permissions rwdlacup] [--hours 2]        prints the token (no '?')
    service-sas CONTAINER [--permissions rwdlac] [--hours 2]  a container's token

Every answer that is not expected exits 1 with the status and body on stderr.
"""

import argparse
import base64
import datetime
import hashlib
import hmac
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

WELL_KNOWN_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
VERSION = "2021-12-02"
SAS_VERSION = "2019-12-12"  # the string-to-sign forms below are this version's


class Client:
    def __init__(self, endpoint, account, key):
        self.endpoint = endpoint.rstrip("/")
        self.account = account
        self.key = base64.b64decode(key)
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def sign(self, method, path, query, headers, length):
        """SharedKey: the string to sign of version 2015-02-21 and later."""
        x_ms = sorted((k.lower(), v.strip()) for k, v in headers.items() if k.lower().startswith("x-ms-"))
        canonical_headers = "".join(f"{k}:{v}\n" for k, v in x_ms)
        resource = "/" + self.account + path
        params = {}
        for k, v in query:
            params.setdefault(k.lower(), []).append(v)
        for k in sorted(params):
            resource += f"\n{k}:{','.join(sorted(params[k]))}"
        get = lambda name: headers.get(name, "")
        to_sign = "\n".join([
            method, get("Content-Encoding"), get("Content-Language"), str(length) if length else "",
            get("Content-MD5"), get("Content-Type"), "", get("If-Modified-Since"), get("If-Match"),
            get("If-None-Match"), get("If-Unmodified-Since"), get("Range")]) + "\n" + canonical_headers + resource
        digest = hmac.new(self.key, to_sign.encode(), hashlib.sha256).digest()
        return f"SharedKey {self.account}:{base64.b64encode(digest).decode()}"

    def request(self, method, path, query=(), body=b"", headers=None):
        """path: below the endpoint (/container/blob), already %-encoded."""
        url_path = urllib.parse.urlparse(self.endpoint).path + path
        headers = dict(headers or {})
        if method in ("PUT", "POST"):
            headers.setdefault("Content-Type", "application/octet-stream")  # else urllib adds its own
        headers["x-ms-date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")
        headers["x-ms-version"] = VERSION
        headers["Authorization"] = self.sign(method, url_path, query, headers, len(body))
        url = self.endpoint + path + ("?" + urllib.parse.urlencode(list(query)) if query else "")
        req = urllib.request.Request(url, data=body if method in ("PUT", "POST") else None, method=method,
                                     headers=headers)
        try:
            with self.opener.open(req, timeout=120) as answer:
                return answer.status, answer.read(), dict(answer.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read(), dict(e.headers)


def fail(status, body):
    sys.stderr.write(f"HTTP {status}\n{body.decode(errors='replace')}\n")
    sys.exit(1)


def blob_path(container, blob):
    return "/" + container + "/" + urllib.parse.quote(blob, safe="/")


def sas_times(hours):
    now = datetime.datetime.now(datetime.timezone.utc)
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return (now - datetime.timedelta(minutes=5)).strftime(fmt), (now + datetime.timedelta(hours=hours)).strftime(fmt)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--endpoint", required=True)
    p.add_argument("--account", default="devstoreaccount1")
    p.add_argument("--key", default=WELL_KNOWN_KEY)
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("create-container"); c.add_argument("container")
    c = sub.add_parser("list"); c.add_argument("container"); c.add_argument("--prefix", default="")
    c = sub.add_parser("get"); c.add_argument("container"); c.add_argument("blob"); c.add_argument("--out", required=True)
    c = sub.add_parser("mirror"); c.add_argument("container"); c.add_argument("--prefix", default=""); c.add_argument("--out", required=True)
    c = sub.add_parser("put"); c.add_argument("container"); c.add_argument("blob"); c.add_argument("--file", required=True)
    c = sub.add_parser("blocklist"); c.add_argument("container"); c.add_argument("blob")
    c = sub.add_parser("account-sas"); c.add_argument("--permissions", default="rwdlacup"); c.add_argument("--hours", type=float, default=2)
    c = sub.add_parser("service-sas"); c.add_argument("container"); c.add_argument("--permissions", default="rwdlac"); c.add_argument("--hours", type=float, default=2)
    a = p.parse_args()
    client = Client(a.endpoint, a.account, a.key)

    if a.command in ("list", "mirror"):
        out, marker = [], ""
        while True:
            query = [("restype", "container"), ("comp", "list"), ("prefix", a.prefix)]
            if marker:
                query.append(("marker", marker))
            status, body, _ = client.request("GET", "/" + a.container, query)
            if status != 200:
                fail(status, body)
            root = ET.fromstring(body)
            for blob in root.iter("Blob"):
                props = blob.find("Properties")
                out.append({"name": blob.findtext("Name"),
                            "size": int(props.findtext("Content-Length") or 0),
                            "etag": props.findtext("Etag") or "",
                            "last_modified": props.findtext("Last-Modified") or "",
                            "blob_type": props.findtext("BlobType") or ""})
            marker = root.findtext("NextMarker") or ""
            if not marker:
                break
        if a.command == "list":
            json.dump(out, sys.stdout)
            return
        prefix = a.prefix.rstrip("/") + "/" if a.prefix else ""
        for blob in out:
            rel = blob["name"][len(prefix):]
            if not rel or rel.endswith("/") or ".." in rel.split("/"):
                continue
            status, body, _ = client.request("GET", blob_path(a.container, blob["name"]))
            if status != 200:
                fail(status, body)
            path = os.path.join(a.out, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(body)
    elif a.command == "create-container":
        status, body, _ = client.request("PUT", "/" + a.container, [("restype", "container")])
        if status not in (201, 409):
            fail(status, body)
    elif a.command == "get":
        status, body, _ = client.request("GET", blob_path(a.container, a.blob))
        if status == 404:
            sys.exit(3)
        if status != 200:
            fail(status, body)
        with open(a.out, "wb") as f:
            f.write(body)
    elif a.command == "put":
        with open(a.file, "rb") as f:
            data = f.read()
        status, body, _ = client.request("PUT", blob_path(a.container, a.blob), body=data,
                                         headers={"x-ms-blob-type": "BlockBlob"})
        if status != 201:
            fail(status, body)
    elif a.command == "blocklist":
        status, body, _ = client.request("GET", blob_path(a.container, a.blob),
                                         [("comp", "blocklist"), ("blocklisttype", "all")])
        if status == 404:
            sys.exit(3)
        if status != 200:
            fail(status, body)
        root = ET.fromstring(body)
        out = {}
        for kind, tag in (("committed", "CommittedBlocks"), ("uncommitted", "UncommittedBlocks")):
            node = root.find(tag)
            out[kind] = [] if node is None else [
                {"name": b.findtext("Name"), "size": int(b.findtext("Size") or 0)} for b in node.iter("Block")]
        json.dump(out, sys.stdout)
    elif a.command == "account-sas":
        start, expiry = sas_times(a.hours)
        fields = {"sv": SAS_VERSION, "ss": "b", "srt": "sco", "sp": a.permissions, "st": start, "se": expiry,
                  "spr": "https,http"}
        to_sign = "\n".join([a.account, fields["sp"], fields["ss"], fields["srt"], start, expiry, "",
                             fields["spr"], SAS_VERSION]) + "\n"
        fields["sig"] = base64.b64encode(hmac.new(client.key, to_sign.encode(), hashlib.sha256).digest()).decode()
        print(urllib.parse.urlencode(fields))
    elif a.command == "service-sas":
        start, expiry = sas_times(a.hours)
        fields = {"sv": SAS_VERSION, "sr": "c", "sp": a.permissions, "st": start, "se": expiry,
                  "spr": "https,http"}
        resource = f"/blob/{a.account}/{a.container}"
        to_sign = "\n".join([fields["sp"], start, expiry, resource, "", "", fields["spr"], SAS_VERSION, "c",
                             "", "", "", "", "", ""])
        fields["sig"] = base64.b64encode(hmac.new(client.key, to_sign.encode(), hashlib.sha256).digest()).decode()
        print(urllib.parse.urlencode(fields))


if __name__ == "__main__":
    main()

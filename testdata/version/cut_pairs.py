#!/usr/bin/env python3
"""Cut testdata/version/reference.tsv from the shared data.

Run from the repository root, with ../shared/data beside it:

    python3 testdata/version/cut_pairs.py

Each pair gets its expected sign from the reference implementation of its
scheme, computed here once, so that the tests can check each scheme's own
order without it:

  debian  dpkg --compare-versions on the two *upstream* versions (epoch and
          Debian revision removed; each is passed to dpkg as 0:UPSTREAM-0
          so that a - or : inside it stays upstream).
  pypi    PEP 440 ordering from packaging.version (pip's vendored copy).
  npm     semver.compare from the semver module bundled with npm.

Selection is deterministic (a hash of the pair), stratified so that the
interesting spellings (~, +, repacks, +really, epochs, pre and post
releases) are represented next to plain ones.
"""

import hashlib
import json
import lzma
import os
import re
import subprocess
import sys
from collections import defaultdict

from pip._vendor.packaging.version import InvalidVersion, Version

ROOT = os.getcwd()
DATA = os.path.join(ROOT, "..", "shared", "data")
OUT = os.path.join(ROOT, "testdata", "version")


def h(*parts):
    return hashlib.sha1("\x00".join(parts).encode()).hexdigest()


def sign(x):
    return (x > 0) - (x < 0)


# ---------------------------------------------------------------- debian

def sources(suite):
    d = os.path.join(DATA, "debian")
    name = [f for f in os.listdir(d) if f.startswith(f"debian-{suite}-main-Sources-")][0]
    out = {}
    pkg = None
    with lzma.open(os.path.join(d, name), "rt", encoding="utf-8") as f:
        for line in f:
            if line.startswith("Package: "):
                pkg = line.split()[1]
            elif line.startswith("Version: ") and pkg not in out:
                out[pkg] = line.split()[1]
    return out


def upstream(v):
    if re.match(r"^[0-9]+:", v):
        v = v.split(":", 1)[1]
    if "-" in v:
        v = v.rsplit("-", 1)[0]
    return v


def dpkg_sign(a, b):
    for op, s in (("lt", -1), ("eq", 0)):
        if subprocess.run(["dpkg", "--compare-versions", a, op, b]).returncode == 0:
            return s
    return 1


def debian_features(a, b):
    ua, ub = upstream(a), upstream(b)
    both = ua + " " + ub
    f = []
    if ua == ub:
        f.append("same-upstream")
    if "really" in both:
        f.append("really")
    if re.search(r"dfsg|ds|repack|\+~", both):
        f.append("repack")
    if "~" in both:
        f.append("tilde")
    if re.search(r"\+(?!dfsg|ds|repack|~|really)", both):
        f.append("plus")
    if ":" in a or ":" in b:
        f.append("epoch")
    if re.search(r"[0-9][A-Za-z]", both):
        f.append("letter")
    if not f:
        f.append("plain")
    return f


def debian_suites():
    return {s: sources(s) for s in (
        "bookworm", "trixie", "bookworm-security", "bookworm-updates",
        "bookworm-backports", "trixie-security", "trixie-updates",
        "trixie-backports")}


COMBOS = [("bookworm", "trixie"), ("bookworm", "bookworm-security"),
          ("bookworm", "bookworm-updates"), ("bookworm", "bookworm-backports"),
          ("trixie", "trixie-security"), ("trixie", "trixie-updates"),
          ("trixie", "trixie-backports")]


DEBIAN_TOTAL = [0]


def debian_pairs():
    """Every pair of differing versions of a source package between a suite
    and the next (bookworm -> trixie) or its overlays, sampled by feature."""
    suites = debian_suites()
    pairs = []
    for base, over in COMBOS:
        for n in sorted(set(suites[base]) & set(suites[over])):
            a, b = suites[base][n], suites[over][n]
            if a != b:
                pairs.append((a, b, f"{base}>{over}:{n}"))
    DEBIAN_TOTAL[0] = len(pairs)

    # Quotas per (combination, feature); a pair counts for its first
    # feature that still has room.
    quota = {"same-upstream": 10, "really": 12, "repack": 15, "tilde": 20,
             "plus": 15, "epoch": 10, "letter": 10, "plain": 15}
    sample = []
    left = {}
    for a, b, src in sorted(pairs, key=lambda p: h(p[2])):
        combo = src.split(":")[0]
        if combo not in left:
            mult = 3 if combo == "bookworm>trixie" else 1  # the release-sized delta
            left[combo] = {k: v * mult for k, v in quota.items()}
        for feat in debian_features(a, b):
            if left[combo].get(feat, 0) > 0:
                left[combo][feat] -= 1
                sample.append(("debian", a, b, dpkg_sign(f"0:{upstream(a)}-0", f"0:{upstream(b)}-0"), src))
                break
    return sample


# ---------------------------------------------------------------- registries

def registry(name):
    with lzma.open(os.path.join(DATA, "registries", name), "rt", encoding="utf-8") as f:
        next(f)
        return sorted({line.split("\t")[1].strip() for line in f if line.count("\t") >= 1} - {""})


def neighbour_pairs(versions, features, release_of, per_feature, seed):
    """Pairs each selected version with a real version of the same release
    (or, failing that, a neighbouring release) so that comparisons are close."""
    by_release = defaultdict(list)
    for v in versions:
        r = release_of(v)
        if r:
            by_release[r].append(v)
    for r in by_release:
        by_release[r].sort(key=lambda v: h(seed, v))
    picked = []
    left = dict(per_feature)
    for v in sorted(versions, key=lambda v: h(seed, "pick", v)):
        feats = [f for f, rx in features if re.search(rx, v)]
        feat = next((f for f in feats if left.get(f, 0) > 0), None)
        if feat is None:
            continue
        r = release_of(v)
        partners = [w for w in by_release.get(r, []) if w != v]
        if not partners:
            continue
        left[feat] -= 1
        picked.append((v, partners[0], feat))
        if len(partners) > 1 and feat != "plain":
            picked.append((v, partners[1], feat))
    return picked


def pypi_pairs():
    versions = registry("pypi.tsv.xz")
    features = [
        ("epoch", r"!"), ("local", r"\+"), ("dev", r"dev"), ("post", r"post|-[0-9]+$|rev|[0-9]r[0-9]"),
        ("rc", r"rc|c[0-9]|pre"), ("beta", r"b|beta"), ("alpha", r"a|alpha"),
        ("vprefix", r"^[vV]"), ("upper", r"[A-Z]"), ("zeros", r"(^|\.)0[0-9]"),
        ("long", r"^[0-9]+(\.[0-9]+){3,}$"), ("plain", r"^[0-9]+(\.[0-9]+)*$"),
    ]
    quota = {"epoch": 12, "local": 12, "dev": 20, "post": 20, "rc": 15, "beta": 15,
             "alpha": 15, "vprefix": 8, "upper": 6, "zeros": 8, "long": 8, "plain": 15}

    def release(v):
        m = re.match(r"^\s*[vV]?(?:[0-9]+!)?([0-9]+(?:\.[0-9]+)*)", v)
        return m and re.sub(r"(\.0+)+$", "", m.group(1))

    out = []
    for a, b, feat in neighbour_pairs(versions, features, release, quota, "pypi"):
        try:
            va, vb = Version(a), Version(b)
        except InvalidVersion:
            continue
        out.append(("pypi", a, b, sign((va > vb) - (va < vb)), f"pypi:{feat}"))
    return out


def npm_pairs():
    versions = registry("npm.tsv.xz")
    features = [
        ("build", r"\+"), ("numeric-pre", r"-[0-9]"), ("post-word-pre", r"-(patch|post|p[0-9.]|pl)"),
        ("dotted-pre", r"-[a-z]+\.[0-9]+\.[0-9]"), ("alpha", r"-alpha"), ("beta", r"-beta"),
        ("rc", r"-rc"), ("other-pre", r"-[a-z]"), ("vprefix", r"^[v=]"), ("plain", r"^[0-9.]+$"),
    ]
    quota = {"build": 10, "numeric-pre": 15, "post-word-pre": 10, "dotted-pre": 10, "alpha": 15,
             "beta": 15, "rc": 15, "other-pre": 20, "vprefix": 5, "plain": 15}

    def release(v):
        m = re.match(r"^[v=]?([0-9]+\.[0-9]+\.[0-9]+)", v)
        return m and m.group(1)

    picked = neighbour_pairs(versions, features, release, quota, "npm")
    semver = subprocess.run(["npm", "root", "-g"], capture_output=True, text=True).stdout.strip()
    js = ("const s=require(process.argv[1]);const ps=JSON.parse(require('fs').readFileSync(0));"
          "console.log(JSON.stringify(ps.map(([a,b])=>{try{return s.compare(a,b)}catch(e){return null}})))")
    res = subprocess.run(["node", "-e", js, os.path.join(semver, "npm", "node_modules", "semver")],
                         input=json.dumps([[a, b] for a, b, _ in picked]), capture_output=True,
                         text=True, check=True)
    signs = json.loads(res.stdout)
    return [("npm", a, b, s, f"npm:{feat}") for (a, b, feat), s in zip(picked, signs) if s is not None]


# ---------------------------------------------------------------- write

def main():
    rows, seen = [], set()
    for row in debian_pairs() + pypi_pairs() + npm_pairs():
        if row[:3] not in seen:
            seen.add(row[:3])
            rows.append(row)
    count = defaultdict(int)
    for s, *_ in rows:
        count[s] += 1
    with open(os.path.join(OUT, "reference.tsv"), "w") as f:
        f.write(HEADER.format(n_deb_all=DEBIAN_TOTAL[0], **{f"n_{k}": count[k] for k in ("debian", "pypi", "npm")}))
        for row in rows:
            f.write("\t".join(str(x) for x in row) + "\n")
    print(f"pairs: {dict(count)}", file=sys.stderr)


HEADER = """\
# Real version pairs with the order their own scheme gives them.
# Cut by testdata/version/cut_pairs.py; do not edit by hand.
# Columns: scheme, a, b, reference (-1, 0, +1: sign of a against b), source.
# The reference order, computed once when cutting:
#   debian  dpkg --compare-versions on the upstream versions (epoch and revision
#           removed), a sample of the {n_deb_all} pairs of real source versions of
#           bookworm vs trixie and each suite vs its -security, -updates and
#           -backports overlay ({n_debian} pairs);
#   pypi    PEP 440 (packaging.version) on real PyPI versions, each paired with a
#           real version of the same release ({n_pypi} pairs);
#   npm     semver.compare (npm's semver) on real npm versions, paired the same
#           way ({n_npm} pairs).
"""

if __name__ == "__main__":
    main()

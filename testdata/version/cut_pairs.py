#!/usr/bin/env python3
"""Cut testdata/version/pairs.tsv and deviations.tsv from the shared data.

Run from the repository root, with ../shared/data beside it:

    python3 testdata/version/cut_pairs.py

Each pair gets its expected sign from the reference implementation of its
scheme, computed here once:

  debian  dpkg --compare-versions on the two *upstream* versions (epoch and
          Debian revision removed, as Normalize removes them; each is passed
          to dpkg as 0:UPSTREAM-0 so that a - or : inside it stays upstream).
  pypi    PEP 440 ordering from packaging.version (pip's vendored copy).
  npm     semver.compare from the semver module bundled with npm.

The script then asks deltalog's own Compare(Normalize(a), Normalize(b)) (via
`go run ./testdata/version/signs`) and splits the pairs: those where both
agree go to pairs.tsv, the others to deviations.tsv with the reason the
generic order legitimately differs. A disagreement no rule below explains is
a bug: the script stops and prints it.

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
    """Compares every pair of differing versions of a source package between
    a suite and the next (bookworm -> trixie) or its overlays. Returns a
    stratified sample of the pairs where the generic order agrees with dpkg,
    and every pair where it does not."""
    suites = debian_suites()
    pairs = []
    for base, over in COMBOS:
        for n in sorted(set(suites[base]) & set(suites[over])):
            a, b = suites[base][n], suites[over][n]
            if a != b:
                pairs.append((a, b, f"{base}>{over}:{n}"))
    DEBIAN_TOTAL[0] = len(pairs)
    got = generic_signs([("debian", a, b) for a, b, _ in pairs])
    want = [dpkg_sign(f"0:{upstream(a)}-0", f"0:{upstream(b)}-0") for a, b, _ in pairs]
    full = sum(dpkg_sign(a, b) != w for (a, b, _), w in zip(pairs, want))
    print(f"debian: {len(pairs)} real pairs; for {full} of them dpkg orders the full versions "
          "differently from the upstream versions (epoch or revision decides)", file=sys.stderr)

    # Quotas per (combination, feature); a pair counts for its first
    # feature that still has room.
    quota = {"same-upstream": 10, "really": 12, "repack": 15, "tilde": 20,
             "plus": 15, "epoch": 10, "letter": 10, "plain": 15}
    sample, deviations = [], []
    left = {}
    for (a, b, src), w, g in sorted(zip(pairs, want, got), key=lambda p: h(p[0][2])):
        if w != g:
            deviations.append(("debian", a, b, w, g, src, reason("debian", a, b, w, g)))
            continue
        combo = src.split(":")[0]
        if combo not in left:
            mult = 3 if combo == "bookworm>trixie" else 1  # the release-sized delta
            left[combo] = {k: v * mult for k, v in quota.items()}
        for feat in debian_features(a, b):
            if left[combo].get(feat, 0) > 0:
                left[combo][feat] -= 1
                sample.append(("debian", a, b, w, src))
                break
    return sample, deviations


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


# ---------------------------------------------------------------- split

def after_really(v):
    m = list(re.finditer(r"(?<![A-Za-z])really[-+~._]*(?=[0-9])", v))
    return v[m[-1].end():] if m else v


def strip_repack(v):
    v = v.split("+~")[0]
    return re.sub(r"(?<=[0-9A-Za-z])[-+~._]*(?<![A-Za-z])(dfsg|ds|dsx|repack|repacked)(?![A-Za-z])[^+~]*", "", v)


REASONS = {
    "really": "X+reallyY is compared as Y, the version really shipped; dpkg compares X+reallyY",
    "repack": "repack markers (+dfsg, +ds, +repack...) and +~ component versions are dropped: same upstream release",
    "trailing-zero": "trailing zeros and dots: generic 1.0 == 1.0.0 == 1.0., dpkg 1.0 < 1.0. < 1.0.0",
    "zero-before-word": "zeros right before a pre-release word do not count (1.0.alpha == 1.alpha, as 1.0 == 1); dpkg counts them",
    "word-after-release": ("a word right after the release without ~ (1.0rc, 1.0.git2024): generic reads it as a "
                           "pre-release, as libversion does any unknown word; dpkg sorts every letter after the end"),
    "plus-vs-dot": "dpkg sorts + before . (1+60 < 1.0~git); generic has 1 == 1.0 and reads + as a post-release",
    "pep440-epoch": "PEP 440 epoch dropped, as Debian epochs are: only the release is compared across repositories",
    "semver-numeric": ("numeric pre-release: semver puts 1.0.0-1 before any word; Normalize writes it "
                       "1.0.0-dev.1, which sorts before every word but dev..."),
    "semver-dev": ("semver orders pre-release words in ASCII (alpha < beta < dev); "
                   "generic puts dev... before alpha, as PEP 440 and PHP do"),
    "semver-words": ("semver compares pre-release words as whole strings; "
                     "generic compares them by first letter and pads with zeros"),
    "after-plus": ("after a +, dpkg sorts a number before a word or another +; generic sorts words "
                   "(pre-release) and + (post-release) before numbers"),
}


def debian_reason(x, y, got):
    """Names (a key of REASONS) the documented reason the generic order of the upstream versions
    x and y differs from dpkg's, or None. The reasons that are a rewrite
    (really, repack) are checked: after the rewrite dpkg must agree."""
    for name, f in (("really", after_really), ("repack", strip_repack)):
        x2, y2 = f(x), f(y)
        if (x2, y2) != (x, y):
            x, y = x2, y2
            if dpkg_sign(f"0:{x}-0", f"0:{y}-0") == got:
                return name
    if re.sub(r"(\.0*)+$", "", x) == re.sub(r"(\.0*)+$", "", y):
        return "trailing-zero"
    n = len(os.path.commonprefix([x, y]))
    p, ra, rb = x[:n], x[n:], y[n:]
    for r1, r2 in ((ra, rb), (rb, ra)):
        if re.sub(r"^0+\.?(?=[a-z])", "", r1) == r2:
            return "zero-before-word"
        if r1 == "" and re.match(r"^\.?[a-z]", r2) and not re.match(r"^\.?(p|pl|post|patch|errata)([^a-z]|$)", r2):
            return "word-after-release"
        if r1[:1] == "+" and r2[:1] == ".":
            return "plus-vs-dot"
        if p.endswith("+") and r1[:1].isdigit() and re.match(r"^[a-z+]", r2):
            return "after-plus"
    return None


def reason(scheme, a, b, want, got):
    """Why the generic order legitimately differs from the reference: a key
    of REASONS, or None."""
    both = a + " " + b
    if scheme == "debian":
        return debian_reason(upstream(a), upstream(b), got)
    if scheme == "pypi":
        if "!" in both:
            return "pep440-epoch"
        return None
    if scheme == "npm":
        pa = (a.split("+")[0].split("-", 1)[1:] or [""])[0]
        pb = (b.split("+")[0].split("-", 1)[1:] or [""])[0]
        if pa and pb and (pa[0].isdigit() or pb[0].isdigit()):
            return "semver-numeric"
        if pa and pb and (pa.startswith("dev") or pb.startswith("dev")):
            return "semver-dev"
        if pa and pb:
            return "semver-words"
        return None
    return None


def generic_signs(pairs):
    res = subprocess.run(["go", "run", "./testdata/version/signs"], cwd=ROOT, check=True,
                         input="".join(f"{p[0]}\t{p[1]}\t{p[2]}\n" for p in pairs),
                         capture_output=True, text=True)
    return [int(x) for x in res.stdout.split()]


def debian_stats():
    """Compares every real Debian pair, not only the ones cut, and prints
    how many disagree with dpkg and why. Writes nothing."""
    suites = debian_suites()
    pairs = []
    for base, over in COMBOS:
        for n in sorted(set(suites[base]) & set(suites[over])):
            a, b = suites[base][n], suites[over][n]
            if a != b:
                pairs.append(("debian", a, b))
    got = generic_signs(pairs)
    why = defaultdict(list)
    for (s, a, b), g in zip(pairs, got):
        want = dpkg_sign(f"0:{upstream(a)}-0", f"0:{upstream(b)}-0")
        if g != want:
            why[reason(s, a, b, want, g)].append((a, b, want, g))
    print(f"debian: {len(pairs)} pairs, {sum(map(len, why.values()))} disagree with dpkg")
    for w, rows in sorted(why.items(), key=lambda x: -len(x[1])):
        print(f"  {len(rows)}: {w}: {REASONS.get(w)}")
        for r in rows[:8]:
            print("     ", *r, sep="\t")


def registry_pairs():
    """Returns the PyPI and npm pairs where the generic order agrees with the
    reference, and those where it does not."""
    pairs = pypi_pairs() + npm_pairs()
    got = generic_signs(pairs)
    agree, deviations, seen = [], [], set()
    for (scheme, a, b, want, src), g in zip(pairs, got):
        if (scheme, a, b) in seen:
            continue
        seen.add((scheme, a, b))
        if g == want:
            agree.append((scheme, a, b, want, src))
        else:
            deviations.append((scheme, a, b, want, g, src, reason(scheme, a, b, want, g)))
    return agree, deviations


def main():
    if sys.argv[1:] == ["--stats"]:
        debian_stats()
        return
    deb, deb_dev = debian_pairs()
    reg, reg_dev = registry_pairs()
    agree, deviate = deb + reg, deb_dev + reg_dev
    unexplained = [d for d in deviate if d[6] is None]
    if unexplained:
        for u in unexplained:
            print("UNEXPLAINED", *u[:6], sep="\t", file=sys.stderr)
        sys.exit(1)

    count = defaultdict(int)
    for s, *_ in agree:
        count[s] += 1
    why = defaultdict(int)
    for d in deviate:
        why[(d[0], d[6])] += 1
    summary = "".join(f"#   {s} {n} {w}: {REASONS[w]}\n" for (s, w), n in sorted(why.items(), key=lambda x: (x[0][0], -x[1])))
    with open(os.path.join(OUT, "pairs.tsv"), "w") as f:
        f.write(HEADER_PAIRS.format(n_deb_all=DEBIAN_TOTAL[0], n_deviations=len(deviate), summary=summary,
                                    **{f"n_{k}": count[k] for k in ("debian", "pypi", "npm")}))
        for row in agree:
            f.write("\t".join(str(x) for x in row) + "\n")
    with open(os.path.join(OUT, "deviations.tsv"), "w") as f:
        f.write(HEADER_DEVIATIONS)
        for row in deviate:
            f.write("\t".join(str(x) for x in row) + "\n")
    print(f"pairs: {dict(count)}; deviations: {len(deviate)}", file=sys.stderr)
    for (s, w), n in sorted(why.items()):
        print(f"  {s}: {n}: {w}", file=sys.stderr)


HEADER_PAIRS = """\
# Real version pairs with the order their own scheme gives them.
# Cut by testdata/version/cut_pairs.py; do not edit by hand.
# Columns: scheme, a, b, want (-1, 0, +1: sign of a against b), source.
# want is the reference order, computed once when cutting:
#   debian  dpkg --compare-versions on the upstream versions (epoch and revision
#           removed, as Normalize removes them), pairs of real source versions:
#           bookworm vs trixie and each suite vs its -security, -updates and
#           -backports overlay ({n_debian} pairs);
#   pypi    PEP 440 (packaging.version) on real PyPI versions, each paired with a
#           real version of the same release ({n_pypi} pairs);
#   npm     semver.compare (npm's semver) on real npm versions, paired the same
#           way ({n_npm} pairs).
# Only pairs where Compare(Normalize(a), Normalize(b)) agrees with the
# reference are here. Left out, and pinned in deviations.tsv with the generic
# sign, are the {n_deviations} pairs where the generic order differs on purpose:
# every one of the {n_deb_all} real Debian pairs that disagrees with dpkg, and the
# PyPI and npm pairs of the sample that disagree with PEP 440 and semver:
{summary}"""

HEADER_DEVIATIONS = """\
# Real version pairs where the generic order differs from the reference order
# of their scheme, on purpose. Cut by testdata/version/cut_pairs.py.
# Columns: scheme, a, b, reference sign, generic sign, source, reason (the
# reasons are explained in the header of pairs.tsv).
# The test pins the generic sign, so a change here is a visible decision.
"""

if __name__ == "__main__":
    main()

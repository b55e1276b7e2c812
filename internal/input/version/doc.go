// Package version orders package versions across repositories, so that
// deltalog can tell, per project, which repositories carry the newest
// version and which are outdated.
//
// Versions from different repositories follow different rules (dpkg, PEP
// 440, semver), so they are first rewritten by Normalize into one generic
// form, which Compare orders and Key encodes.
//
// # The generic order
//
// Compare follows Repology's libversion:
//
//   - A version is split into components: runs of digits and runs of ASCII
//     letters. Everything else separates them (1_2~3 == 1.2.3).
//   - Numbers compare numerically, as digit strings of any length with
//     leading zeros ignored (01 == 1, 1.10 > 1.9).
//   - Each component has a rank, compared before its value:
//     pre-release < zero < post-release < non-zero number < letter suffix.
//     Pre-release words are alpha, beta, rc, pre…, dev… and any word not
//     known otherwise (1.0alpha1 < 1.0rc1 < 1.0, 1.0git20240101 < 1.0).
//     Post-release words are post…, patch…, pl, errata and p
//     (1.0 < 1.0patch1 < 1.0.1). A word glued to a number and not followed
//     by one is a letter suffix, unless it is a keyword: 1.0 < 1.0.1 < 1.0a.
//   - Words compare case-insensitively by their first letter only, so
//     alpha == a and beta == b, as libversion does.
//   - A shorter version is padded with zeros: 1.0 == 1.0.0, and 1.0 sorts
//     after 1.0.rc1 but before 1.0.post1.
//
// Where this package departs from libversion, it is to agree with the
// schemes it normalizes, checked on real data (see testdata/version):
//
//   - p is a post-release word (libversion's VERSIONFLAG_P_IS_PATCH), as in
//     OpenSSH's 9.6p1.
//   - dev… sorts before every other pre-release word, as in PEP 440 and
//     PHP: 1.0dev1 < 1.0alpha1.
//   - Zeros right before a pre-release word are dropped, so 1.0alpha1 ==
//     1.0.0alpha1, as 1.0 == 1.0.0. libversion keeps them, which puts
//     1.0.0alpha2 after 1.0beta1 and npm's 1.0.0-rc.1 after PyPI's 1.0rc1.
//
// # Normalization
//
// Normalize keeps what identifies the upstream release: it drops Debian
// epochs and revisions, repack markers (+dfsg, +ds, +repack) and +really
// prefixes, PEP 440 epochs and local versions, and semver build metadata;
// and it maps what each scheme means by its separators onto the generic
// ranks (Debian's ~ is a pre-release, its + a post-release; every semver
// pre-release sorts before its release). The tests check the result against
// dpkg, PEP 440 and semver on real pairs, and list the deliberate
// differences with their reasons.
//
// # Keys
//
// Key encodes a version into bytes that sort like it: bytes.Compare(Key(a),
// Key(b)) == Compare(a, b) for every a and b, and equal versions have
// identical keys. It exists for the database: a version_key bytea column,
// which PostgreSQL compares with memcmp, lets SQL order versions and
// compute max(version_key) per project in bulk, with an index, without
// calling back into Go. Keys are a stored format; their layout is
// documented on Key and pinned by tests.
package version

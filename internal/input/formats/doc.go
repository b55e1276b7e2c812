// Package formats turns the files a repository publishes into
// events.Package values: it is the only place in deltalog that knows what a
// Debian index or a registry list looks like.
//
// Everything downstream (hashing, change detection, the changelog) trusts
// what this package emits, and a wrong package here becomes a wrong event
// that every projection and follower replays forever. So the parsers are
// strict where a silent mistake would corrupt history, and lenient only
// where real data is known to be irregular:
//
//   - Bad input is an error, never a silently dropped record: a truncated
//     download that parsed as "fewer packages" would make deltalog announce
//     thousands of removals. (The one record dropped by design, a TSV row
//     without a version, is counted and located in Stats.) Every error is a *ParseError naming the file, the line
//     and the field, because the person who reads it has a 50 MB file in
//     front of them. Compressed input is checked to its end for the same
//     reason (see Open).
//   - Values are normalized here, once: maintainer emails lower-cased (the
//     email is the identity), lists sorted by events.Package.Normalize, so
//     that equal content hashes equal no matter how a file spells it.
//   - Parsing is streaming and allocation-lean: the Debian amd64 Packages
//     index is 50 MB and a registry list is 900k rows, read on every
//     update. Only the fields deltalog keeps are copied; the rest are
//     validated (UTF-8, size) and dropped in place.
//
// # Formats
//
// DebianSources and DebianPackages read deb822 indexes (Sources, and
// binary Packages files). A package's Name is its Package field; its
// Project is the source package (a binary's Source field without the
// "(version)", or its own name). Version, Section (as Category), the first
// line of Description (as Summary, binaries only), Maintainer and Uploaders
// (as Maintainers), Homepage and every Vcs-* field (as Links of kind
// "homepage", "vcs-git", "vcs-browser" …; the URL without Vcs-Git's
// " -b branch" or " [subdir]") are kept. Binaries also carry Extra
// "architecture" and, when the Source field names a version,
// "source_version". Stanzas with "Extra-Source-Only: yes" are sources kept
// in the archive only for Built-Using and are ignored.
//
// TSV reads registry lists: a header line naming the columns, then one
// package per line, tab-separated, without quoting. "name" and "version"
// columns are required, "summary" is optional, and every other column is
// carried in Extra under its header name (empty values left out). A row
// with an empty version (a name without any release) is skipped and counted
// in Stats. The Project of every TSV package is its name normalized as PEP
// 503 does: lower-cased, each run of "-", "_" and "." replaced by one "-".
// For PyPI this is the registry's own identity; for npm it merges names
// that differ only in those characters ("@pnpm/lockfile.types" and
// "@pnpm/lockfile-types") into one project, each keeping its own Name.
//
// JSONL is the format for any other catalog to feed deltalog: one JSON
// object per line with the fields of events.Package, for example
//
//	{"project":"0ad","name":"0ad","version":"0.0.26-3","category":"games","maintainers":[{"email":"vcheng@debian.org","name":"Vincent Cheng"}],"links":[{"kind":"homepage","url":"https://play0ad.com/"}],"extra":{"architecture":"amd64"}}
//
// "name" and "version" are required; "project" defaults to "name";
// "summary", "category", "maintainers" (each with an "email"), "links"
// (each with "kind" and "url") and "extra" (string values) are optional.
// Unknown fields are an error, so that a misspelled field is noticed rather
// than silently dropped. Blank lines are ignored. Emails are lower-cased.
//
// # Files and snapshots
//
// Open decompresses xz and gzip, detected by content. ReadSnapshot reads
// the files of one repository snapshot in order, applying later files as
// overlays (a Debian suite, then its -updates and -security), and records
// each file's size and sha256 for the edit batch.
package formats

// Package pgcluster manages the private PostgreSQL cluster deltalog uses when
// no DATABASE_URL (or --db) is given.
//
// The cluster lives under a home directory ($DELTALOG_HOME, default
// ./.deltalog) and is created and started on demand from the machine's
// PostgreSQL server binaries (initdb, pg_ctl, postgres; version 14 or newer,
// located by [FindBinaries]):
//
//	<home>/pgdata/        the cluster (initdb --auth=trust -U postgres --encoding=UTF8 --locale=C)
//	<home>/run/           the unix socket directory
//	<home>/postgres.log   the server log
//	<home>/cluster.lock   serializes Start and Stop across processes (flock)
//
// The server listens on its unix socket only, unless [Config.Port] is set, in
// which case it also listens on 127.0.0.1:Port. Authentication is "trust":
// anyone who can reach the socket (or, with a Port, any local user) is a
// superuser, so the socket directory is private (mode 0700) and the cluster is
// meant for local development, tests and benchmarks.
//
// Settings deltalog chooses (listen address, socket directory,
// max_connections=100, shared_buffers=256MB, max_wal_size=2GB, and with
// [Config.Fast] fsync, synchronous_commit and full_page_writes off) are
// written to pgdata/deltalog.conf on every start, which postgresql.conf
// includes last. Changes take effect at the next start; settings made with
// ALTER SYSTEM still override them.
//
// # Socket path length
//
// A unix socket path is limited to about 104 bytes (107 on Linux). When
// <home>/run/.s.PGSQL.<port> would be longer, the socket directory is
// <os.TempDir()>/deltalog-<hash> instead, where <hash> is derived from the
// absolute home path, so every process computes the same directory.
//
// # Running as root
//
// PostgreSQL refuses to run as root. When the process runs as root, initdb,
// pg_ctl and postgres run as the owner of an existing pgdata directory, or
// else as the "postgres" OS user; pgdata, the socket directory and
// postgres.log are owned by that user. That user must be able to traverse
// every directory down to the home directory: Start checks this and reports
// the first directory in the way (for example a 0700 directory under /tmp).
// If there is no postgres user, Start fails with [ErrNoPostgresUser].
//
// # Concurrency
//
// Start and Stop take an exclusive flock on <home>/cluster.lock, so several
// processes (go test runs packages in parallel processes) can call Start at
// once: one initializes and starts the cluster, the others wait and find it
// running. A postmaster.pid left behind by a killed server is detected and
// removed, so a crash never wedges Start.
package pgcluster

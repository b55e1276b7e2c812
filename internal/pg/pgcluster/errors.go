package pgcluster

import "errors"

// ErrNoBinaries is returned (wrapped, with the directories searched and how to
// install PostgreSQL) when no usable PostgreSQL server binaries are found.
var ErrNoBinaries = errors.New("no PostgreSQL 14+ server binaries (initdb, pg_ctl, postgres) found")

// ErrNoPostgresUser is returned (wrapped) when the process runs as root and
// there is no "postgres" OS user to run the server as.
var ErrNoPostgresUser = errors.New("running as root, but there is no postgres OS user to run PostgreSQL as")

// ErrNotTraversable is returned (wrapped, naming the directory in the way)
// when the process runs as root and the OS user that runs the server cannot
// reach the home directory.
var ErrNotTraversable = errors.New("the PostgreSQL OS user cannot reach the cluster home directory")

// ErrNoCluster is returned (wrapped, naming the home) by Start with
// Config.NoCreate when the home holds no cluster.
var ErrNoCluster = errors.New("no PostgreSQL cluster")

// ErrUnsupported is returned on platforms where the managed cluster is not
// available (anything but unix).
var ErrUnsupported = errors.New("the managed PostgreSQL cluster is only supported on unix systems; set DATABASE_URL instead")

const installHint = "install PostgreSQL 14+ server binaries: `apt-get install postgresql` (Debian/Ubuntu), " +
	"`dnf install postgresql-server` (Fedora/RHEL), `brew install postgresql` (macOS); " +
	"or set DATABASE_URL to use an existing server"

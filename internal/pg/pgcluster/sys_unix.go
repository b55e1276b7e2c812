//go:build unix

package pgcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"
)

// lockFile takes an exclusive flock on path, waiting until it is free or ctx
// is done. flock locks belong to the open file, so this serializes goroutines
// of one process as well as processes.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: open lock file: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = f.Close() }, nil // closing releases the lock
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			_ = f.Close()
			return nil, fmt.Errorf("pgcluster: lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("pgcluster: waiting for lock %s: %w", path, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// isPostgresProcess reports whether pid is a live (not zombie) process that,
// as far as can be told, is a PostgreSQL server. A postmaster.pid naming a
// dead process, a zombie (killed postmaster whose parent does not reap it) or
// an unrelated process that reused the PID is stale.
func isPostgresProcess(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	// Linux: look closer. Elsewhere, trust kill(pid, 0).
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return !dirExists("/proc/self")
	}
	// "pid (comm) state ...": comm may hold spaces and parentheses.
	open, end := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
	if open < 0 || end < open || end+2 >= len(stat) {
		return true
	}
	comm, state := stat[open+1:end], stat[end+2]
	if state == 'Z' || state == 'X' {
		return false
	}
	return bytes.HasPrefix(comm, []byte("postgres")) || bytes.HasPrefix(comm, []byte("postmaster"))
}

// osUser is the OS user the server runs as when deltalog runs as root.
type osUser struct {
	name   string
	uid    uint32
	gid    uint32
	groups []uint32
	home   string
}

// serverUser returns the user to run PostgreSQL programs as: nil when the
// process is not root; when it is, the owner of an existing non-root data
// directory, or else the postgres user.
func serverUser(dataDir string) (*osUser, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	if st, err := os.Stat(dataDir); err == nil {
		if sys, ok := st.Sys().(*syscall.Stat_t); ok && sys.Uid != 0 {
			if u, err := user.LookupId(strconv.FormatUint(uint64(sys.Uid), 10)); err == nil {
				return toOSUser(u)
			}
			return &osUser{name: strconv.FormatUint(uint64(sys.Uid), 10), uid: sys.Uid, gid: sys.Gid}, nil
		}
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgcluster: %w (PostgreSQL refuses to run as root): "+
			"create one (`useradd --system postgres`), "+
			"run deltalog as a non-root user, or set DATABASE_URL (lookup: %v)", ErrNoPostgresUser, err)
	}
	return toOSUser(u)
}

func toOSUser(u *user.User) (*osUser, error) {
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: user %s: uid %q: %w", u.Username, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: user %s: gid %q: %w", u.Username, u.Gid, err)
	}
	o := &osUser{name: u.Username, uid: uint32(uid), gid: uint32(gid), home: u.HomeDir}
	if ids, err := u.GroupIds(); err == nil {
		for _, id := range ids {
			if g, err := strconv.ParseUint(id, 10, 32); err == nil {
				o.groups = append(o.groups, uint32(g))
			}
		}
	}
	return o, nil
}

// apply makes cmd run as u.
func (u *osUser) apply(cmd *exec.Cmd) {
	if u == nil {
		return
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: u.uid, Gid: u.gid, Groups: u.groups},
	}
	if u.home != "" {
		cmd.Env = append(cmd.Env, "HOME="+u.home, "USER="+u.name, "LOGNAME="+u.name)
	}
}

// chown gives path to u (no-op when u is nil).
func (u *osUser) chown(path string) error {
	if u == nil {
		return nil
	}
	if err := os.Lchown(path, int(u.uid), int(u.gid)); err != nil {
		return fmt.Errorf("pgcluster: chown %s to %s: %w", path, u.name, err)
	}
	return nil
}

// checkTraverse makes sure u can reach dir: every directory from / down to
// dir must grant it search (x) permission. ACLs are not consulted.
func (u *osUser) checkTraverse(dir string) error {
	if u == nil {
		return nil
	}
	resolved, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("pgcluster: resolve %s: %w", dir, err)
	}
	var path []string // from / down to dir
	for p := resolved; ; p = filepath.Dir(p) {
		path = append([]string{p}, path...)
		if p == filepath.Dir(p) {
			break
		}
	}
	for _, p := range path {
		st, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("pgcluster: stat %s: %w", p, err)
		}
		sys, ok := st.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		perm := st.Mode().Perm()
		var can bool
		switch {
		case sys.Uid == u.uid:
			can = perm&0o100 != 0
		case sys.Gid == u.gid || slices.Contains(u.groups, sys.Gid):
			can = perm&0o010 != 0
		default:
			can = perm&0o001 != 0
		}
		if !can {
			return fmt.Errorf("pgcluster: %w: running as root, PostgreSQL runs as OS user %s (uid %d), "+
				"which cannot enter %s (mode %04o, owner uid %d, gid %d) on the way to %s; "+
				"allow it (`chmod o+x %s`), choose a home directory it can reach (DELTALOG_HOME), "+
				"run as a non-root user, or set DATABASE_URL",
				ErrNotTraversable, u.name, u.uid, p, perm, sys.Uid, sys.Gid, resolved, p)
		}
	}
	return nil
}

// ownerUID returns the uid owning path.
func ownerUID(path string) (uint32, bool) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, false
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return sys.Uid, true
}

func supported() error { return nil }

//go:build !unix

package pgcluster

import (
	"context"
	"os/exec"
)

func lockFile(context.Context, string) (func(), error) { return nil, ErrUnsupported }

func isPostgresProcess(int) bool { return false }

type osUser struct {
	name string
	uid  uint32
}

func serverUser(string) (*osUser, error) { return nil, nil }

func (u *osUser) apply(*exec.Cmd) {}

func (u *osUser) chown(string) error { return nil }

func (u *osUser) checkTraverse(string) error { return nil }

func ownerUID(string) (uint32, bool) { return 0, false }

func supported() error { return ErrUnsupported }

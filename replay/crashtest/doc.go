// Package crashtest kills the replay processes — `deltalog replicate` and
// `deltalog follow` — with SIGKILL at random moments and checks that
// nothing is lost or applied twice. It holds only tests: the binary is
// built once by TestMain and run as real processes.
package crashtest

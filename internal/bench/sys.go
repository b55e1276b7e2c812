package bench

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
)

// peakRSS reads the process's peak resident set size (VmHWM) in bytes, 0
// where /proc is not available.
func peakRSS() int64 {
	return procStatusBytes("/proc/self/status", "VmHWM:")
}

// procStatusBytes reads the field (a size in kB) of a /proc status file in
// bytes, 0 if it cannot.
func procStatusBytes(path, field string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for line := range bytes.Lines(b) {
		if rest, ok := bytes.CutPrefix(line, []byte(field)); ok {
			f := strings.Fields(string(rest))
			if len(f) >= 1 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// resetPeakRSS returns memory the heap no longer uses to the OS and resets
// the kernel's peak RSS mark, so that the next peakRSS is the peak of what
// runs in between. It reports whether the mark could be reset.
func resetPeakRSS() bool {
	runtime.GC()
	debug.FreeOSMemory()
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// Machine describes where the benchmark ran.
type Machine struct {
	CPUs       int    `json:"cpus"`
	CPUModel   string `json:"cpu_model,omitempty"`
	MemoryGiB  int    `json:"memory_gib,omitempty"`
	OS         string `json:"os"`
	Go         string `json:"go"`
	PostgreSQL string `json:"postgresql,omitempty"`
	// Settings are the server settings that matter most for the figures.
	Settings map[string]string `json:"settings,omitempty"`
}

func machine(ctx context.Context, pool *pgxpool.Pool) Machine {
	m := Machine{CPUs: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				if f := strings.Fields(rest); len(f) > 0 {
					kb, _ := strconv.ParseInt(f[0], 10, 64)
					m.MemoryGiB = int((kb + 1<<19) >> 20)
				}
			}
		}
	}
	if pool != nil {
		_ = pool.QueryRow(ctx, "SELECT current_setting('server_version')").Scan(&m.PostgreSQL)
		m.Settings = map[string]string{}
		for _, s := range []string{"shared_buffers", "work_mem", "maintenance_work_mem", "fsync", "synchronous_commit", "max_wal_size"} {
			var v string
			if pool.QueryRow(ctx, "SELECT current_setting($1)", s).Scan(&v) == nil {
				m.Settings[s] = v
			}
		}
	}
	return m
}

package bench

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"unicode/utf8"
)

// Target is one goal of issue 6 or 12, checked against a run.
type Target struct {
	Name string `json:"name"`
	// Measured is the ratio or rate measured (absent when the cases it
	// needs did not run).
	Measured *float64 `json:"measured,omitempty"`
	Unit     string   `json:"unit"`
	Want     string   `json:"want"`
	// Met is absent when the target could not be judged by this run.
	Met  *bool  `json:"met,omitempty"`
	Note string `json:"note,omitempty"`
}

// targets checks the run against the goals.
func targets(r *Report, packages int) []Target {
	db := func(name string) float64 {
		if c := r.Case(name); c != nil && c.DBSeconds != nil {
			return *c.DBSeconds
		}
		return math.NaN()
	}
	e2e := func(name string) float64 {
		if c := r.Case(name); c != nil {
			return c.Seconds
		}
		return math.NaN()
	}
	var out []Target
	add := func(name string, v float64, unit, want string, ok func(float64) bool, note string) {
		t := Target{Name: name, Unit: unit, Want: want, Note: note}
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			t.Measured = ptr(v)
			t.Met = ptrBool(ok(v))
		}
		out = append(out, t)
	}
	atLeast := func(x float64) func(float64) bool { return func(v float64) bool { return v >= x } }
	atMost := func(x float64) func(float64) bool { return func(v float64) bool { return v <= x } }

	floorOf := func(c *Case) float64 {
		if c != nil && c.Floor != nil && len(c.Floor.Samples) > 0 {
			return c.Floor.Seconds
		}
		return math.NaN()
	}
	d1, d01 := DeltaCase(0.01), DeltaCase(0.001)
	rc := db(CaseRecompute)
	add("database: full recompute ÷ "+CaseSingle, rc/db(CaseSingle), "×", "≥ 1000×", atLeast(1000), "")
	// At 1 %, the ideal-delta floor itself may be above a thirtieth of the
	// full recompute: then being within 2× of the floor is the goal.
	fl1 := floorOf(r.Case(d1))
	note1 := ""
	if !math.IsNaN(fl1) {
		note1 = fmt.Sprintf("%.2f× the ideal-delta floor of %s", db(d1)/fl1, dur(fl1))
	}
	add("database: full recompute ÷ "+d1, rc/db(d1), "×", "≥ 30×, or ≤ 2× the floor when it is above rc/30", func(v float64) bool {
		return v >= 30 || (fl1 > rc/30 && db(d1) <= 2*fl1)
	}, note1)
	add("database: materialized views ÷ "+d1, db(CaseViews)/db(d1), "×", "≥ 20×", atLeast(20), "")
	add("database: full recompute ÷ "+d01, rc/db(d01), "×", "≥ 100×", atLeast(100), "")
	for _, name := range []string{d01, d1} {
		amp, note := math.NaN(), ""
		if c := r.Case(name); c != nil && c.Floor != nil {
			amp = c.Floor.Amplification()
			note = fmt.Sprintf("%d re-derived, %d changed", c.Floor.Rederived, c.Floor.Changed)
		}
		add("amplification (re-derived ÷ changed rows), "+name, amp, "×", "≤ 1.5×", atMost(1.5), note)
	}
	// The parse + hash inside the same runs is measured under the same
	// load as the rest of the update: shown beside the ratio.
	inRun := func(name string) string {
		if c := r.Case(name); c != nil && c.ParseSeconds != nil && *c.ParseSeconds > 0 {
			return fmt.Sprintf("%.2f× the parse + hash of the same runs", c.Seconds / *c.ParseSeconds)
		}
		return ""
	}
	add("end to end: no-change update (byte-identical files) ÷ parse + hash", e2e(CaseNoChange)/e2e(CaseParseHash), "×", "≤ 0.1×",
		atMost(0.1), inRun(CaseNoChange))
	add("end to end: "+d1+" ÷ parse + hash", e2e(d1)/e2e(CaseParseHash), "×", "≤ 1.5×", atMost(1.5), inRun(d1))
	add("full ingest ÷ (COPY floor + full recompute)", e2e(CaseFull)/(db(CaseCopy)+db(CaseRecompute)), "×", "≤ 4×", atMost(4), "")
	hash := math.NaN()
	if r.HashBytesPerSecond > 0 {
		hash = r.HashBytesPerSecond / 1e9
	}
	add("hashing: canonical bytes per second on one core", hash, "GB/s", "≥ 1 GB/s", atLeast(1), "")
	parse := math.NaN()
	if c := r.Case(CaseParseHash); c != nil && c.ReadSeconds != nil {
		parse = c.Seconds / *c.ReadSeconds
	}
	add("parsing: parse + hash ÷ reading alone (synthetic JSONL, uncompressed)", parse, "×", "≈ 1× (bound by decompression)",
		atMost(1.25), "")
	for _, w := range r.Workloads {
		for _, c := range w.Cases {
			if strings.HasPrefix(c.Name, CaseParseHash) && c.ReadSeconds != nil {
				add(fmt.Sprintf("hashing on one core (%s)", w.Name), c.HashBytesPerSecond/1e9, "GB/s", "≥ 1 GB/s", atLeast(1), "")
				add(fmt.Sprintf("parsing: %s ÷ reading alone (%s)", c.Name, w.Name), c.Seconds / *c.ReadSeconds, "×",
					"≈ 1× (bound by decompression)", atMost(1.25), "")
			}
		}
	}
	out = append(out, workloadTargets(r)...)
	rss := Target{Name: "peak RSS of the process", Unit: "MiB", Want: "< 1 GiB at 5M packages"}
	if r.PeakRSS > 0 {
		rss.Measured = ptr(float64(r.PeakRSS) / (1 << 20))
		if packages >= 5_000_000 {
			rss.Met = ptrBool(r.PeakRSS < 1<<30)
		} else {
			rss.Note = fmt.Sprintf("measured at %d packages", packages)
		}
	}
	out = append(out, rss)
	return out
}

// workloadTargets checks the real workloads against the goals of issue 12.
func workloadTargets(r *Report) []Target {
	find := func(workload, name string) *Case {
		for i := range r.Workloads {
			if r.Workloads[i].Name == workload {
				for j := range r.Workloads[i].Cases {
					if r.Workloads[i].Cases[j].Name == name {
						return &r.Workloads[i].Cases[j]
					}
				}
			}
		}
		return nil
	}
	var out []Target
	add := func(name string, v float64, unit, want string, ok bool, note string) {
		t := Target{Name: name, Unit: unit, Want: want, Note: note}
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			t.Measured, t.Met = ptr(v), ptrBool(ok)
		}
		out = append(out, t)
	}
	replay := math.NaN()
	if c := find("Debian", CaseReplay); c != nil && c.Seconds > 0 {
		replay = float64(c.Events) / c.Seconds
	}
	add("replay (rebuild --from changelog) on Debian", replay, "events/s", "≥ 20000 events/s", replay >= 20000, "")

	var peak int64
	for i := range r.Workloads {
		if r.Workloads[i].Name != "PyPI" {
			continue
		}
		for _, c := range r.Workloads[i].Cases {
			if c.ParseSeconds != nil { // an update
				peak = max(peak, c.PeakRSS)
			}
		}
	}
	rss := math.NaN()
	if peak > 0 {
		rss = float64(peak) / (1 << 20)
	}
	add("peak RSS of a PyPI list update", rss, "MiB", "< 512 MiB", rss < 512, "")
	ingest := math.NaN()
	if full, cp := find("PyPI", CaseFull), find("PyPI", CaseCopy); full != nil && cp != nil && cp.DBSeconds != nil {
		ingest = full.Seconds / *cp.DBSeconds
	}
	add("PyPI list full ingest with projections ÷ its COPY floor", ingest, "×", "≤ 10×", ingest <= 10, "")

	faster := func(name string) (float64, string) {
		if c := find(PeerWorkload, name); c != nil && c.PeerSeconds != nil {
			return *c.PeerSeconds / c.Seconds, fmt.Sprintf("%s against the peer's %s", dur(c.Seconds), dur(*c.PeerSeconds))
		}
		return math.NaN(), ""
	}
	v, note := faster(PeerInitial)
	add("Repology workload, initial: peer ÷ deltalog", v, "×", "≥ 10×", v >= 10, note)
	v, note = faster(PeerDelta)
	add("Repology workload, bookworm overlays delta: peer ÷ deltalog", v, "×", "≥ 20×", v >= 20, note)
	nc, note := math.NaN(), ""
	if c := find(PeerWorkload, PeerNoChange); c != nil {
		nc = c.Seconds
		if c.PeerSeconds != nil {
			note = fmt.Sprintf("the peer: %s, %.1fs of it its database phase", dur(*c.PeerSeconds), PeerNoChangeDBSeconds)
		}
	}
	add("Repology workload, no-change (both repositories)", nc, "s", "≤ 0.2 s", nc <= 0.2, note)
	return out
}

func ptrBool(b bool) *bool { return &b }

// WriteTable prints the report as tables.
func (r *Report) WriteTable(w io.Writer) error {
	s := r.Scale
	fmt.Fprintf(w, "deltalog bench — %d packages (%d packagesets, %d projects) in %d repositories, seed %d, %s of JSONL\n",
		s.Packages, s.Packagesets, s.Projects, s.Repos, s.Seed, mib(s.InputBytes))
	m := r.Machine
	fmt.Fprintf(w, "machine: %d CPUs (%s), %d GiB; %s, %s; PostgreSQL %s", m.CPUs, m.CPUModel, m.MemoryGiB, m.OS, m.Go, m.PostgreSQL)
	if len(m.Settings) > 0 {
		fmt.Fprintf(w, " (shared_buffers %s, fsync %s, synchronous_commit %s)",
			m.Settings["shared_buffers"], m.Settings["fsync"], m.Settings["synchronous_commit"])
	}
	fmt.Fprintf(w, "\nmedians of %d runs (full ingest: as many as were asked), projection pages of %d events; database = everything after parse + hash, projections included\n\n",
		s.Reps, s.PageSize)
	if err := writeCases(w, r.Cases); err != nil {
		return err
	}
	if err := writeAPI(w, r.API); err != nil {
		return err
	}
	for _, wl := range r.Workloads {
		fmt.Fprintf(w, "\n%s — %s\n\n", wl.Name, wl.Note)
		if err := writeCases(w, wl.Cases); err != nil {
			return err
		}
	}

	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	width := 0
	for _, t := range r.Targets {
		width = max(width, utf8.RuneCountInString(t.Name))
	}
	fmt.Fprintf(tw, "%s\tmeasured\twant\t  %s\n", pad("target", width), "verdict")
	for _, t := range r.Targets {
		measured, verdict := "—", "not measured"
		if t.Measured != nil {
			switch t.Unit {
			case "×":
				measured = fmt.Sprintf("%.2f×", *t.Measured)
			default:
				measured = fmt.Sprintf("%.2f %s", *t.Measured, t.Unit)
			}
		}
		if t.Met != nil {
			verdict = map[bool]string{true: "met", false: "MISSED"}[*t.Met]
		} else if t.Measured != nil {
			verdict = "not judged"
		}
		if t.Note != "" {
			verdict += " (" + t.Note + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t  %s\n", pad(t.Name, width), measured, t.Want, verdict)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	rss := "peak"
	if r.PerCaseRSS {
		rss = "peak (reset before each case)"
	}
	fmt.Fprintf(w, "\npeak RSS %s over the run; RSS column: %s; total run %.0fs\n", mib(r.PeakRSS), rss, r.Seconds)
	for _, a := range r.Audits {
		fmt.Fprintf(w, "audit after the %s cases: %s (%d checks, %.1fs)\n", a.Family, a.Outcome, a.Checks, a.Seconds)
	}
	return nil
}

func writeCases(w io.Writer, cases []Case) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	width := 0
	for _, c := range cases {
		width = max(width, utf8.RuneCountInString(c.Name))
	}
	peer := slices.ContainsFunc(cases, func(c Case) bool { return c.PeerSeconds != nil })
	head := pad("case", width) + "\truns\tmedian\tdatabase\tfloor\tamplif.\tparse+hash\tprojections\tevents\tWAL\tpeak RSS\t"
	if peer {
		head += "peer\tpeer ÷ this\t"
	}
	fmt.Fprintln(tw, head)
	for _, c := range cases {
		events := "—"
		if c.Events > 0 {
			events = fmt.Sprint(c.Events)
		}
		floor, amp := "—", "—"
		if c.Floor != nil {
			floor = dur(c.Floor.Seconds)
			if a := c.Floor.Amplification(); !math.IsNaN(a) {
				amp = fmt.Sprintf("%.2f", a)
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t", pad(c.Name, width), c.Runs, dur(c.Seconds), durp(c.DBSeconds),
			floor, amp, durp(c.ParseSeconds), durp(c.ProjectSeconds), events, bytesOf(c.WALBytes), mib(c.PeakRSS))
		if peer {
			ratio := "—"
			if c.PeerSeconds != nil {
				ratio = fmt.Sprintf("%.1f×", *c.PeerSeconds/c.Seconds)
			}
			fmt.Fprintf(tw, "%s\t%s\t", durp(c.PeerSeconds), ratio)
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, c := range cases {
		if c.Note != "" {
			fmt.Fprintf(w, "  %s: %s\n", c.Name, c.Note)
		}
		if f := c.Floor; f != nil {
			fmt.Fprintf(w, "  %s: floor writes %d derived rows (and %d of packagesets and packages); the delta path re-derived %d and wrote %d a run\n",
				c.Name, f.Changed, f.StateRows, f.Rederived, f.Written)
			if line := statementShares(f.StatementSeconds); line != "" {
				fmt.Fprintf(w, "  %s: projections' statement time by table: %s\n", c.Name, line)
			}
		}
	}
	return nil
}

// statementShares renders each table's share of the statements' time,
// largest first: the eight largest, the rest summed.
func statementShares(secs map[string]float64) string {
	var total float64
	for _, v := range secs {
		total += v
	}
	if total <= 0 {
		return ""
	}
	names := slices.SortedFunc(maps.Keys(secs), func(a, b string) int { return cmp.Compare(secs[b], secs[a]) })
	var parts []string
	var rest float64
	for i, n := range names {
		if i < 8 {
			parts = append(parts, fmt.Sprintf("%s %.0f%%", n, 100*secs[n]/total))
		} else {
			rest += secs[n]
		}
	}
	if rest > 0 {
		parts = append(parts, fmt.Sprintf("%d others %.0f%%", len(names)-8, 100*rest/total))
	}
	return fmt.Sprintf("%s (of %s)", strings.Join(parts, ", "), dur(total))
}

// pad left-aligns s in a right-aligned tabwriter column.
func pad(s string, width int) string {
	return s + strings.Repeat(" ", max(0, width-utf8.RuneCountInString(s)))
}

func dur(s float64) string {
	switch {
	case math.IsNaN(s):
		return "—"
	case s >= 100:
		return fmt.Sprintf("%.0fs", s)
	case s >= 10:
		return fmt.Sprintf("%.1fs", s)
	case s >= 1:
		return fmt.Sprintf("%.2fs", s)
	default:
		return fmt.Sprintf("%.0fms", s*1000)
	}
}

func durp(s *float64) string {
	if s == nil {
		return "—"
	}
	return dur(*s)
}

// bytesOf is b in KiB or MiB.
func bytesOf(b int64) string {
	switch {
	case b <= 0:
		return "—"
	case b < 10<<20:
		return fmt.Sprintf("%.0f KiB", float64(b)/(1<<10))
	}
	return mib(b)
}

func mib(b int64) string {
	if b <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}

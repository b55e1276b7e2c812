package web

import (
	"fmt"
	"html/template"
	"strings"
)

// batchChart draws the batches' durations and event counts, oldest on the
// left, as an inline SVG: two bar rows sharing the time axis, each scaled
// to its own maximum. A duration bar whose batch recorded its time split
// stacks parse, diff and write (bottom to top). The page needs no script
// to show it.
func batchChart(batches []Batch) template.HTML {
	if len(batches) == 0 {
		return ""
	}
	const (
		width, rowHeight, gap, label = 600.0, 60.0, 18.0, 14.0
	)
	maxSecs, maxEvents := 0.0, 0
	for _, b := range batches {
		maxSecs = max(maxSecs, b.Seconds())
		maxEvents = max(maxEvents, b.Counts["events"])
	}
	bar := width / float64(len(batches))
	var sb strings.Builder
	height := 2*(rowHeight+label) + gap
	fmt.Fprintf(&sb, `<svg class="chart" role="img" aria-label="batch durations and events per batch" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" xmlns="http://www.w3.org/2000/svg">`,
		width, height, width, height)
	fmt.Fprintf(&sb, `<text x="0" y="11" class="label">duration (max %.2fs): parse, diff, write</text>`, maxSecs)
	fmt.Fprintf(&sb, `<text x="0" y="%.0f" class="label">events (max %d)</text>`, rowHeight+label+gap+11, maxEvents)
	for i := range batches {
		b := batches[len(batches)-1-i] // oldest first
		x := float64(i) * bar
		tip := fmt.Sprintf("batch %d %s: %.2fs, %d events", b.ID, b.Repository, b.Seconds(), b.Counts["events"])
		rect := func(class string, bottom, h float64, tip string) {
			fmt.Fprintf(&sb, `<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s</title></rect>`,
				class, x+1, bottom-h, max(bar-2, 1), h, template.HTMLEscapeString(tip))
		}
		bottom := label + rowHeight
		if t := b.Timings; t != nil {
			for _, part := range []struct {
				class string
				secs  float64
			}{{"parse", t.Parse}, {"diff", t.Diff}, {"write", t.Write}} {
				h := ratio(part.secs, maxSecs) * rowHeight
				rect(part.class, bottom, h, fmt.Sprintf("%s (%s %.2fs)", tip, part.class, part.secs))
				bottom -= h
			}
		} else {
			rect("secs", bottom, ratio(b.Seconds(), maxSecs)*rowHeight, tip)
		}
		rect("events", 2*(label+rowHeight)+gap, ratio(float64(b.Counts["events"]), float64(maxEvents))*rowHeight, tip)
	}
	sb.WriteString(`</svg>`)
	// Built from numbers and escaped text only.
	return template.HTML(sb.String()) //nolint:gosec
}

func ratio(v, of float64) float64 {
	if of <= 0 {
		return 0
	}
	return v / of
}

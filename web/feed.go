package web

import (
	"context"
	"encoding/xml"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"time"
)

// Atom (RFC 4287) documents, as much of them as the feeds use.
type atomFeed struct {
	XMLName xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	ID      string      `xml:"id"`
	Title   string      `xml:"title"`
	Updated string      `xml:"updated"`
	Author  atomAuthor  `xml:"author"`
	Links   []atomLink  `xml:"link"`
	Entries []atomEntry `xml:"entry"`
}

type atomAuthor struct {
	Name string `xml:"name"`
}

type atomLink struct {
	Rel  string `xml:"rel,attr,omitempty"`
	Href string `xml:"href,attr"`
}

type atomEntry struct {
	ID       string       `xml:"id"`
	Title    string       `xml:"title"`
	Updated  string       `xml:"updated"`
	Link     atomLink     `xml:"link"`
	Category atomCategory `xml:"category"`
	Content  string       `xml:"content"`
}

type atomCategory struct {
	Term string `xml:"term,attr"`
}

// EntryID names the change a history entry records: the seq of the event
// that caused it and its kind (an event causes at most one entry of each
// kind for its project). It depends on nothing a rebuild or a follower
// could assign differently.
func EntryID(seq int64, kind string) string {
	return fmt.Sprintf("urn:deltalog:change:%d:%s", seq, kind)
}

// Title says what a history entry records, in words.
func (h HistoryEntry) Title() string {
	ver := func(v *string) string {
		if v == nil {
			return "?"
		}
		return *v
	}
	switch h.Kind {
	case "added":
		return fmt.Sprintf("%s %s added to %s", h.Project, ver(h.NewVersion), h.Repository)
	case "removed":
		return fmt.Sprintf("%s %s removed from %s", h.Project, ver(h.OldVersion), h.Repository)
	case "version_update":
		return fmt.Sprintf("%s updated from %s to %s in %s", h.Project, ver(h.OldVersion), ver(h.NewVersion), h.Repository)
	case "new_newest":
		return fmt.Sprintf("%s has a new newest version %s (first in %s): other repositories are now outdated",
			h.Project, ver(h.NewVersion), h.Repository)
	case "fell_outdated":
		return fmt.Sprintf("%s %s fell outdated in %s: %s is newer (in %s)",
			h.Project, ver(h.OldVersion), h.Repository, ver(h.NewVersion), ver(h.NewestIn))
	}
	return h.Project + ": " + h.Kind
}

// feed answers the Atom feed of a subject's history.
func (s *Server) feed(ctx context.Context, subject, name string, key any) ([]byte, string, error) {
	entries, err := s.store.history(ctx, subject, key, math.MaxInt64, s.cfg.FeedEntries)
	if err != nil {
		return nil, "", err
	}
	self := "/feeds/" + subject + "/" + url.PathEscape(name)
	f := atomFeed{
		ID:     "urn:deltalog:feed:" + subject + ":" + url.PathEscape(name),
		Title:  fmt.Sprintf("deltalog: %s %s", subject, name),
		Author: atomAuthor{Name: "deltalog"},
		Links:  []atomLink{{Rel: "self", Href: self}, {Rel: "alternate", Href: "/" + subject + "/" + url.PathEscape(name)}},
		// Deterministic: the newest entry's time, or the epoch for an
		// empty feed (so that the same checkpoint gives the same bytes).
		Updated: time.Unix(0, 0).UTC().Format(time.RFC3339),
	}
	if len(entries) > 0 {
		f.Updated = entries[0].At.UTC().Format(time.RFC3339Nano)
	}
	for _, h := range entries {
		f.Entries = append(f.Entries, atomEntry{
			ID:       EntryID(h.Seq, h.Kind),
			Title:    h.Title(),
			Updated:  h.At.UTC().Format(time.RFC3339Nano),
			Link:     atomLink{Rel: "alternate", Href: "/project/" + url.PathEscape(h.Project)},
			Category: atomCategory{Term: h.Kind},
			Content:  fmt.Sprintf("%s (changelog seq %d)", h.Title(), h.Seq),
		})
	}
	b, err := xml.MarshalIndent(f, "", " ")
	if err != nil {
		return nil, "", err
	}
	return append([]byte(xml.Header), b...), "application/atom+xml; charset=utf-8", nil
}

func (s *Server) feedProject(ctx context.Context, r *http.Request, _ Checkpoint) ([]byte, string, error) {
	name := r.PathValue("name")
	if _, err := s.store.project(ctx, name); err != nil {
		return nil, "", err
	}
	return s.feed(ctx, "project", name, name)
}

func (s *Server) feedMaintainer(ctx context.Context, r *http.Request, _ Checkpoint) ([]byte, string, error) {
	m, err := s.store.maintainer(ctx, r.PathValue("email"))
	if err != nil {
		return nil, "", err
	}
	return s.feed(ctx, "maintainer", m.Email, m.ID)
}

func (s *Server) feedRepository(ctx context.Context, r *http.Request, _ Checkpoint) ([]byte, string, error) {
	repo, err := s.store.repository(ctx, r.PathValue("name"))
	if err != nil {
		return nil, "", err
	}
	return s.feed(ctx, "repository", repo.Name, repo.ID)
}

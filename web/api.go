package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
)

// polledFunc answers a request at checkpoint c: it returns the body and
// its content type.
type polledFunc func(ctx context.Context, r *http.Request, c Checkpoint) (body []byte, contentType string, err error)

// polled reads the checkpoint, answers 304 when the client already has
// this version (before any catalog table is read), and otherwise sets the
// checkpoint headers and writes what h returns.
func (s *Server) polled(h polledFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		c, err := s.store.checkpoint(ctx)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		etag := c.ETag()
		hd := w.Header()
		hd.Set("ETag", etag)
		hd.Set("Deltalog-Checkpoint", strconv.FormatInt(c.Seq(), 10))
		hd.Set("Deltalog-Head", strconv.FormatInt(c.Head, 10))
		hd.Set("Cache-Control", "no-cache")
		if etagMatch(r.Header.Get("If-None-Match"), etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		body, ct, err := h(ctx, r, c)
		if err != nil {
			hd.Del("ETag")
			s.fail(w, r, err)
			return
		}
		hd.Set("Content-Type", ct)
		hd.Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	}
}

// etagMatch reports whether an If-None-Match header names etag (or is *).
func etagMatch(header, etag string) bool {
	for t := range strings.SplitSeq(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// fail answers an error: 404 for ErrNotFound, 400 for a bad parameter,
// 500 (logged, not shown) for the rest.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var bad *badRequest
	switch {
	case errors.Is(err, ErrNotFound):
		http.Error(w, err.Error(), http.StatusNotFound)
	case errors.As(err, &bad):
		http.Error(w, bad.msg, http.StatusBadRequest)
	case context.Cause(r.Context()) == errRequestTimeout:
		http.Error(w, fmt.Sprintf("request took longer than %s", s.cfg.RequestTimeout), http.StatusServiceUnavailable)
	case r.Context().Err() != nil:
		// The client went away; nobody reads an answer.
	default:
		s.cfg.Logger.ErrorContext(r.Context(), "web: request failed", "path", r.URL.Path, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
}

// jsonBody encodes v with the checkpoint seq as its "checkpoint" field.
func jsonBody(c Checkpoint, v any) ([]byte, string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, "", err
	}
	// Every body is an object: splice the checkpoint in as its first field.
	b := buf.Bytes()
	head := `{"checkpoint":` + strconv.FormatInt(c.Seq(), 10)
	if len(b) > 2 && b[1] != '}' {
		head += ","
	}
	return append([]byte(head), b[1:]...), "application/json", nil
}

func (s *Server) apiProject(ctx context.Context, r *http.Request, c Checkpoint) ([]byte, string, error) {
	v, err := s.store.projectView(ctx, r.PathValue("name"))
	if err != nil {
		return nil, "", err
	}
	return jsonBody(c, v)
}

func (s *Server) apiProjects(ctx context.Context, r *http.Request, c Checkpoint) ([]byte, string, error) {
	p, err := parseProjectsParams(r.URL.Query(), s.cfg.DefaultLimit, s.cfg.MaxLimit)
	if err != nil {
		return nil, "", err
	}
	page, err := s.store.projects(ctx, p)
	if err != nil {
		return nil, "", err
	}
	return jsonBody(c, page)
}

func (s *Server) apiRepository(ctx context.Context, r *http.Request, c Checkpoint) ([]byte, string, error) {
	repo, err := s.store.repository(ctx, r.PathValue("name"))
	if err != nil {
		return nil, "", err
	}
	return jsonBody(c, struct {
		Repository Repository `json:"repository"`
	}{repo})
}

func (s *Server) apiMaintainer(ctx context.Context, r *http.Request, c Checkpoint) ([]byte, string, error) {
	m, err := s.store.maintainer(ctx, r.PathValue("email"))
	if err != nil {
		return nil, "", err
	}
	return jsonBody(c, struct {
		Maintainer MaintainerInfo `json:"maintainer"`
	}{m})
}

// HistoryPage is a page of a project's history, newest first.
type HistoryPage struct {
	History []HistoryEntry `json:"history"`
	// Before is the cursor of the next (older) page; 0 on the last page.
	Before int64 `json:"before,omitempty"`
}

func (s *Server) apiHistory(ctx context.Context, r *http.Request, c Checkpoint) ([]byte, string, error) {
	name := r.PathValue("name")
	q := r.URL.Query()
	limit, err := intParam(q, "limit", s.cfg.DefaultLimit, 1, s.cfg.MaxLimit)
	if err != nil {
		return nil, "", err
	}
	before, err := intParam(q, "before", math.MaxInt, 1, math.MaxInt)
	if err != nil {
		return nil, "", err
	}
	if _, err := s.store.project(ctx, name); err != nil {
		return nil, "", err
	}
	h, err := s.store.history(ctx, "project", name, int64(before), limit+1)
	if err != nil {
		return nil, "", err
	}
	page := HistoryPage{History: h}
	if len(h) > limit {
		// Seqs are whole events: cut at the last complete one.
		last := h[limit].Seq
		for len(page.History) > 0 && page.History[len(page.History)-1].Seq == last {
			page.History = page.History[:len(page.History)-1]
		}
		page.Before = last + 1
		if len(page.History) == 0 {
			// One event with more entries than the limit: give it whole.
			page.History, page.Before = h, 0
		}
	}
	return jsonBody(c, page)
}

func (s *Server) apiStatistics(ctx context.Context, _ *http.Request, c Checkpoint) ([]byte, string, error) {
	st, err := s.store.statistics(ctx)
	if err != nil {
		return nil, "", err
	}
	return jsonBody(c, struct {
		Statistics Statistics `json:"statistics"`
	}{st})
}

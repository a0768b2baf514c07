package api

import (
	"context"
	"io"
	"net/http"
	"strconv"

	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/service"
)

// SwiftPath is where, under a project's /v1.0/{tenant}, the read-only
// Swift-compatible view of the published guest logs is served; the
// identity catalog lists it as the project's "object-store" endpoint
// (identity.Config.ObjectStorePath). Trove publishes guest logs to Swift
// and troveclient's "log save" and "log tail" download them from the
// object-store endpoint of the catalog with python-swiftclient: a listing
// of the log's container by prefix (GET {container}?format=json&prefix=),
// then HEAD (X-Object-Meta-Lines) and GET of each part. Nothing else of
// Swift is offered: no accounts, no writes.
const SwiftPath = "/swift"

// LogObjectBackend is an optional Backend capability: the published
// guest logs as objects. A Backend without it answers 501.
type LogObjectBackend interface {
	ListLogObjects(ctx context.Context, tenantID, container, prefix string) ([]service.LogObject, error)
	OpenLogObject(ctx context.Context, tenantID, container, name string) (service.LogObject, io.ReadCloser, error)
}

func (s *Server) logObjectBackend(op string) (LogObjectBackend, error) {
	lb, ok := s.b.(LogObjectBackend)
	if !ok {
		return nil, fault.New(fault.NotImplemented, op, "Log actions are not supported.")
	}
	return lb, nil
}

func (s *Server) swiftRoutes(t string) {
	s.handle("GET "+t+"swift/{container}", s.listSwiftObjects)
	// GET patterns serve HEAD too (swiftclient's head_object).
	s.handle("GET "+t+"swift/{container}/{object...}", s.getSwiftObject)
}

// swiftObject is an entry of a Swift container listing (format=json).
type swiftObject struct {
	Name         string `json:"name"`
	Bytes        int64  `json:"bytes"`
	Hash         string `json:"hash"`
	LastModified string `json:"last_modified"`
	ContentType  string `json:"content_type"`
}

// swiftTime is Swift's last_modified layout (UTC, microseconds).
const swiftTime = "2006-01-02T15:04:05.000000"

// listSwiftObjects serves GET {container}?prefix=: the parts of one log.
func (s *Server) listSwiftObjects(w http.ResponseWriter, r *http.Request) error {
	lb, err := s.logObjectBackend("api.swift.list")
	if err != nil {
		return err
	}
	if f := r.URL.Query().Get("format"); f != "" && f != "json" {
		return fault.New(fault.Invalid, "api.swift.list", "Only format=json listings are offered.")
	}
	objs, err := lb.ListLogObjects(r.Context(), r.PathValue("tenant"), r.PathValue("container"), r.URL.Query().Get("prefix"))
	if err != nil {
		return err
	}
	// A marker (swiftclient's full_listing) asks for what follows it:
	// every part is in the first page.
	if r.URL.Query().Get("marker") != "" {
		objs = nil
	}
	out := make([]swiftObject, 0, len(objs))
	for _, o := range objs {
		out = append(out, swiftObject{Name: o.Name, Bytes: o.Bytes, LastModified: o.Modified.UTC().Format(swiftTime), ContentType: "text/plain"})
	}
	w.Header().Set("X-Container-Object-Count", strconv.Itoa(len(out)))
	return writeJSON(w, http.StatusOK, out)
}

// getSwiftObject serves GET and HEAD of one part.
func (s *Server) getSwiftObject(w http.ResponseWriter, r *http.Request) error {
	lb, err := s.logObjectBackend("api.swift.get")
	if err != nil {
		return err
	}
	o, rc, err := lb.OpenLogObject(r.Context(), r.PathValue("tenant"), r.PathValue("container"), r.PathValue("object"))
	if err != nil {
		return err
	}
	defer rc.Close()
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", strconv.FormatInt(o.Bytes, 10))
	h.Set("X-Object-Meta-Lines", strconv.Itoa(o.Lines))
	h.Set("Last-Modified", o.Modified.UTC().Format(http.TimeFormat))
	h.Set("X-Timestamp", strconv.FormatFloat(float64(o.Modified.UnixMicro())/1e6, 'f', 5, 64))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil
	}
	if _, err := io.CopyN(w, rc, o.Bytes); err != nil {
		s.log.Warn("log part cut short", "object", o.Name, "err", err)
	}
	return nil
}

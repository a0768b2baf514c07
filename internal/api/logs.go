package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/service"
)

// LogBackend is an optional Backend capability: the guest logs of
// instances (reference §16.1). A Backend without it answers 501, as Trove
// does without Swift.
type LogBackend interface {
	// ListLogs returns every log of the tenant's instance id.
	ListLogs(ctx context.Context, tenantID, id string) ([]service.LogView, error)
	// LogAction shows, switches, publishes or discards one log and returns
	// its state afterwards.
	LogAction(ctx context.Context, tenantID, id string, a service.LogAction) (*service.LogView, error)
}

func (s *Server) logBackend(op string) (LogBackend, error) {
	lb, ok := s.b.(LogBackend)
	if !ok {
		return nil, fault.New(fault.NotImplemented, op, "Log actions are not supported.")
	}
	return lb, nil
}

// logView is Trove's log object: sizes as strings, and "None" for the
// container and prefix of a log never published.
type logView struct {
	Name      string `json:"name"`
	Type      string `json:"type"`
	Status    string `json:"status"`
	Published string `json:"published"`
	Pending   string `json:"pending"`
	Container string `json:"container"`
	Prefix    string `json:"prefix"`
	Metafile  string `json:"metafile"`
}

func toLogView(v service.LogView) logView {
	none := func(s string) string {
		if s == "" {
			return "None"
		}
		return s
	}
	return logView{
		Name: v.Name, Type: string(v.Type), Status: string(v.Status),
		Published: strconv.FormatInt(v.Published, 10), Pending: strconv.FormatInt(v.Pending, 10),
		Container: none(v.Container), Prefix: none(v.Prefix), Metafile: v.Metafile,
	}
}

// listLogs serves GET /instances/{id}/log.
func (s *Server) listLogs(w http.ResponseWriter, r *http.Request) error {
	lb, err := s.logBackend("api.instance.log.list")
	if err != nil {
		return err
	}
	logs, err := lb.ListLogs(r.Context(), r.PathValue("tenant"), r.PathValue("id"))
	if err != nil {
		return err
	}
	out := make([]logView, 0, len(logs))
	for _, l := range logs {
		out = append(out, toLogView(l))
	}
	return writeJSON(w, http.StatusOK, map[string][]logView{"logs": out})
}

// logAction serves POST /instances/{id}/log: 200 with the log.
func (s *Server) logAction(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	a, err := decodeLogAction(body)
	if err != nil {
		return err
	}
	lb, err := s.logBackend("api.instance.log.action")
	if err != nil {
		return err
	}
	v, err := lb.LogAction(r.Context(), r.PathValue("tenant"), r.PathValue("id"), a)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]logView{"log": toLogView(*v)})
}

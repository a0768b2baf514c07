package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/hoard-db/hoard/internal/fault"
)

// statusClientClosed is the status recorded (nginx's 499) when the client
// went away before an answer was ready.
const statusClientClosed = 499

// faultInfo is how one fault kind appears on the wire.
type faultInfo struct {
	status int
	name   string // Trove fault name, the body's only key
	msg    string // default message (webob's stock text) when none is given
}

// faults is THE table from fault kind to HTTP status and Trove fault name
// (API reference §2.2). Kinds missing from it are treated as Internal.
var faults = map[fault.Kind]faultInfo{
	fault.Invalid:        {http.StatusBadRequest, "badRequest", "The server could not comply with the request since it is either malformed or otherwise incorrect."},
	fault.Unauthorized:   {http.StatusUnauthorized, "unauthorized", "The request you have made requires authentication."},
	fault.Forbidden:      {http.StatusForbidden, "forbidden", "Access was denied to this resource."},
	fault.NotFound:       {http.StatusNotFound, "itemNotFound", "The resource could not be found."},
	fault.BadMethod:      {http.StatusMethodNotAllowed, "badMethod", "The method is not allowed for this resource."},
	fault.Conflict:       {http.StatusConflict, "conflict", "There was a conflict when trying to complete your request."},
	fault.OverLimit:      {http.StatusRequestEntityTooLarge, "overLimit", "The request is larger than the server is willing or able to process."},
	fault.BadMediaType:   {http.StatusUnsupportedMediaType, "badMediaType", "Unsupported Content-Type"},
	fault.Unprocessable:  {http.StatusUnprocessableEntity, "unprocessableEntity", "Unable to process the contained instructions"},
	fault.Internal:       {http.StatusInternalServerError, "instanceFault", ""},
	fault.NotImplemented: {http.StatusNotImplemented, "notImplemented", "The server does not support the action requested by the browser."},
	fault.Unavailable:    {http.StatusServiceUnavailable, "serviceUnavailable", "The server is currently unavailable. Please try again at a later time."},
}

// faultBody is the value under the fault name.
type faultBody struct {
	Code       int    `json:"code"`
	Message    string `json:"message"`
	Details    string `json:"details,omitempty"`
	RetryAfter string `json:"retryAfter,omitempty"`
}

// writeFault writes err as a Trove fault; it is the only writer of error
// bodies. Internal errors show only the request id, and are logged with the
// error; a cancelled client gets 499 and is not logged as an error.
func (s *Server) writeFault(w http.ResponseWriter, r *http.Request, err error) {
	ri := reqInfoFrom(r.Context())
	log := ri.logger(s.log)
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		log.LogAttrs(r.Context(), slog.LevelDebug, "client went away", slog.String("err", err.Error()))
		w.WriteHeader(statusClientClosed)
		return
	}
	kind := fault.KindOf(err)
	fi, ok := faults[kind]
	if !ok {
		kind, fi = fault.Internal, faults[fault.Internal]
	}
	body := faultBody{Code: fi.status, Message: fault.Message(err)}
	var fe *fault.Error
	if errors.As(err, &fe) && kind != fault.Internal {
		body.Details = fe.Details
		if kind == fault.OverLimit && fe.RetryAfter > 0 {
			body.RetryAfter = strconv.Itoa(fe.RetryAfter)
			w.Header().Set("Retry-After", body.RetryAfter)
		}
	}
	switch {
	case kind == fault.Internal:
		body.Message = fmt.Sprintf("Internal Server Error. Please keep this ID to help us figure out what went wrong: (%s).", ri.id)
		log.LogAttrs(context.WithoutCancel(r.Context()), slog.LevelError, "internal error",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("err", err.Error()))
	case fi.status >= 500 && kind != fault.NotImplemented:
		log.LogAttrs(r.Context(), slog.LevelWarn, "request failed",
			slog.Int("status", fi.status), slog.String("err", err.Error()))
	default:
		log.LogAttrs(r.Context(), slog.LevelDebug, "request refused",
			slog.Int("status", fi.status), slog.String("err", err.Error()))
	}
	if body.Message == "" {
		body.Message = fi.msg
	}
	if fi.status < 500 {
		ri.fault = body.Message
	}
	if werr := writeJSON(w, fi.status, map[string]faultBody{fi.name: body}); werr != nil {
		log.LogAttrs(r.Context(), slog.LevelError, "write fault", slog.String("err", werr.Error()))
	}
}

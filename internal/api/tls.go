package api

import (
	"mime"
	"net/http"
	"strings"
)

// pemMediaType is what a client asks for (Accept) to get the CA
// certificate as a plain PEM file instead of JSON.
const pemMediaType = "application/x-pem-file"

// instanceCA serves GET .../instances/{id}/ca (a hoard extra): the
// certificate of the CA the instance's TLS certificate chains to, as
// {"ca": {"certificate": PEM}}, or the PEM itself when the client accepts
// application/x-pem-file.
func (s *Server) instanceCA(w http.ResponseWriter, r *http.Request) error {
	pem, err := s.b.InstanceCA(r.Context(), r.PathValue("tenant"), r.PathValue("id"))
	if err != nil {
		return err
	}
	if acceptsPEM(r.Header.Values("Accept")) {
		w.Header().Set("Content-Type", pemMediaType)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(pem)
		return nil
	}
	return writeJSON(w, http.StatusOK, map[string]map[string]string{"ca": {"certificate": string(pem)}})
}

// acceptsPEM reports whether an Accept header names the PEM media type.
func acceptsPEM(accept []string) bool {
	for _, h := range accept {
		for part := range strings.SplitSeq(h, ",") {
			if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == pemMediaType {
				return true
			}
		}
	}
	return false
}

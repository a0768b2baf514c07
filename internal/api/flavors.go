package api

import (
	"net/http"
	"strconv"

	"github.com/hoard-db/hoard/internal/fault"
)

// listFlavors serves GET /v1.0/{tenant}/flavors.
func (s *Server) listFlavors(w http.ResponseWriter, r *http.Request) error {
	flavors, err := s.b.ListFlavors(r.Context())
	if err != nil {
		return err
	}
	tenant := r.PathValue("tenant")
	views := make([]flavorView, 0, len(flavors))
	for i := range flavors {
		views = append(views, newFlavorView(r, tenant, &flavors[i]))
	}
	return writeJSON(w, http.StatusOK, map[string][]flavorView{"flavors": views})
}

// getFlavor serves GET /v1.0/{tenant}/flavors/{id}. Flavor ids are integers;
// anything else cannot be found.
func (s *Server) getFlavor(w http.ResponseWriter, r *http.Request) error {
	raw := r.PathValue("id")
	id, err := strconv.Atoi(raw)
	if err != nil || id < 0 {
		return fault.Errorf(fault.NotFound, "api.flavor.get", "Resource %s cannot be found.", truncate(raw, 64))
	}
	f, err := s.b.GetFlavor(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]flavorView{"flavor": newFlavorView(r, r.PathValue("tenant"), f)})
}

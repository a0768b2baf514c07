package identity

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
)

// Timestamp layouts: v3 sends microseconds, v2.0 whole seconds; both UTC
// with a literal Z (gophercloud parses v2.0 "expires" with a Z layout).
const (
	v3TimeLayout = "2006-01-02T15:04:05.000000Z"
	v2TimeLayout = "2006-01-02T15:04:05Z"
)

// Authentication methods.
const (
	methodPassword = "password"
	methodToken    = "token"
)

// v3AuthRequest is a decoded, checked POST /v3/auth/tokens body.
type v3AuthRequest struct {
	Method   string // methodPassword or methodToken
	User     userRef
	Password string
	TokenID  string
	Project  projectRef
	Unscoped bool // "scope": "unscoped": do not pick a default project
}

type v3DomainJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type v3AuthJSON struct {
	Auth *struct {
		Identity *struct {
			Methods  []string `json:"methods"`
			Password *struct {
				User *struct {
					ID       string        `json:"id"`
					Name     string        `json:"name"`
					Password string        `json:"password"`
					Domain   *v3DomainJSON `json:"domain"`
				} `json:"user"`
			} `json:"password"`
			Token *struct {
				ID string `json:"id"`
			} `json:"token"`
		} `json:"identity"`
		Scope json.RawMessage `json:"scope"`
	} `json:"auth"`
}

type v3ScopeJSON struct {
	Project *struct {
		ID     string        `json:"id"`
		Name   string        `json:"name"`
		Domain *v3DomainJSON `json:"domain"`
	} `json:"project"`
	Domain *v3DomainJSON   `json:"domain"`
	System json.RawMessage `json:"system"`
}

// decodeV3AuthRequest decodes and checks a v3 token request. Malformed
// bodies are fault.Invalid; unsupported methods and scopes are
// fault.Unauthorized, as in Keystone.
func decodeV3AuthRequest(r io.Reader) (*v3AuthRequest, error) {
	const op = "identity.decode_v3_auth"
	var body v3AuthJSON
	dec := json.NewDecoder(r)
	if err := dec.Decode(&body); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, fault.Wrap(fault.OverLimit, op, "Request body is too large.", err)
		}
		return nil, fault.Wrap(fault.Invalid, op, "Malformed request body: "+jsonProblem(err), err)
	}
	if body.Auth == nil || body.Auth.Identity == nil {
		return nil, fault.New(fault.Invalid, op, "'identity' is a required property")
	}
	id := body.Auth.Identity
	if len(id.Methods) == 0 {
		return nil, fault.New(fault.Invalid, op, "'methods' is a required property")
	}
	req := &v3AuthRequest{}
	switch {
	case slices.Contains(id.Methods, methodPassword):
		if id.Password == nil || id.Password.User == nil {
			return nil, fault.New(fault.Invalid, op, "password method requires 'password.user'")
		}
		u := id.Password.User
		if u.ID == "" && u.Name == "" {
			return nil, fault.New(fault.Invalid, op, "user requires 'id' or 'name'")
		}
		req.Method = methodPassword
		req.User = userRef{ID: u.ID, Name: u.Name}
		if u.Domain != nil {
			req.User.DomainID, req.User.DomainName = u.Domain.ID, u.Domain.Name
		}
		req.Password = u.Password
	case slices.Contains(id.Methods, methodToken):
		if id.Token == nil || id.Token.ID == "" {
			return nil, fault.New(fault.Invalid, op, "token method requires 'token.id'")
		}
		req.Method = methodToken
		req.TokenID = id.Token.ID
	default:
		return nil, fault.New(fault.Unauthorized, op, "Unsupported authentication method.")
	}

	raw := bytes.TrimSpace(body.Auth.Scope)
	switch {
	case len(raw) == 0 || bytes.Equal(raw, []byte("null")):
		return req, nil
	case raw[0] == '"':
		var str string
		if err := json.Unmarshal(raw, &str); err != nil || str != "unscoped" {
			return nil, fault.New(fault.Invalid, op, "'scope' must be an object or \"unscoped\"")
		}
		req.Unscoped = true
		return req, nil
	}
	var sc v3ScopeJSON
	if err := json.Unmarshal(raw, &sc); err != nil {
		return nil, fault.Wrap(fault.Invalid, op, "Malformed scope: "+jsonProblem(err), err)
	}
	switch {
	case sc.Project != nil:
		if sc.Project.ID == "" && sc.Project.Name == "" {
			return nil, fault.New(fault.Invalid, op, "project scope requires 'id' or 'name'")
		}
		req.Project = projectRef{ID: sc.Project.ID, Name: sc.Project.Name}
		if sc.Project.Domain != nil {
			req.Project.DomainID, req.Project.DomainName = sc.Project.Domain.ID, sc.Project.Domain.Name
		}
	case sc.Domain != nil || len(sc.System) > 0:
		return nil, fault.New(fault.Unauthorized, op, "Only project-scoped tokens are supported.")
	default:
		req.Unscoped = true
	}
	return req, nil
}

// JSON shapes of the v3 token body.
type (
	v3TokenBody struct {
		Token v3Token `json:"token"`
	}
	v3Token struct {
		Methods   []string        `json:"methods"`
		ExpiresAt string          `json:"expires_at"`
		IssuedAt  string          `json:"issued_at"`
		AuditIDs  []string        `json:"audit_ids"`
		User      v3NamedRef      `json:"user"`
		Project   *v3NamedRef     `json:"project,omitempty"`
		Roles     []v3Role        `json:"roles,omitempty"`
		Catalog   *[]catalogEntry `json:"catalog,omitempty"`
	}
	v3NamedRef struct {
		ID     string       `json:"id"`
		Name   string       `json:"name"`
		Domain v3DomainJSON `json:"domain"`
	}
	v3Role struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	catalogEntry struct {
		ID        string     `json:"id"`
		Type      string     `json:"type"`
		Name      string     `json:"name"`
		Endpoints []endpoint `json:"endpoints"`
	}
	endpoint struct {
		ID        string `json:"id"`
		Interface string `json:"interface"`
		Region    string `json:"region"`
		RegionID  string `json:"region_id"`
		URL       string `json:"url"`
	}
)

var defaultDomain = v3DomainJSON{ID: model.DefaultDomainID, Name: model.DefaultDomainName}

// auditID is a public, non-secret id of a token (derived from its hash).
func auditID(hash []byte) string {
	h := sha256.Sum256(hash)
	return base64.RawURLEncoding.EncodeToString(h[:16])
}

func (s *Service) v3Body(r *http.Request, ss *session, withCatalog bool) v3TokenBody {
	t := v3Token{
		Methods:   ss.token.Methods,
		ExpiresAt: ss.token.ExpiresAt.UTC().Format(v3TimeLayout),
		IssuedAt:  ss.token.IssuedAt.UTC().Format(v3TimeLayout),
		AuditIDs:  []string{auditID(ss.token.Hash)},
		User:      v3NamedRef{ID: ss.user.ID, Name: ss.user.Name, Domain: defaultDomain},
	}
	if len(t.Methods) == 0 {
		t.Methods = []string{methodPassword}
	}
	if ss.project != nil {
		t.Project = &v3NamedRef{ID: ss.project.ID, Name: ss.project.Name, Domain: defaultDomain}
		t.Roles = []v3Role{}
		for _, role := range ss.token.Roles {
			t.Roles = append(t.Roles, v3Role{ID: role, Name: role})
		}
		if withCatalog {
			cat := []catalogEntry{s.catalogEntry(r, ss.project.ID), s.identityEntry(r)}
			if s.swift != "" {
				cat = append(cat, s.objectStoreEntry(r, ss.project.ID))
			}
			t.Catalog = &cat
		}
	}
	return v3TokenBody{Token: t}
}

func (s *Service) catalogEntry(r *http.Request, projectID string) catalogEntry {
	url := s.databaseURL(r, projectID)
	e := catalogEntry{ID: "hoard-database", Type: "database", Name: "trove"}
	for _, iface := range []string{"public", "internal", "admin"} {
		e.Endpoints = append(e.Endpoints, endpoint{
			ID: "hoard-database-" + iface, Interface: iface, Region: s.region, RegionID: s.region, URL: url,
		})
	}
	return e
}

// objectStoreEntry lists the Swift-compatible view of the published
// guest logs (Config.ObjectStorePath).
func (s *Service) objectStoreEntry(r *http.Request, projectID string) catalogEntry {
	url := s.databaseURL(r, projectID) + s.swift
	e := catalogEntry{ID: "hoard-object-store", Type: "object-store", Name: "swift"}
	for _, iface := range []string{"public", "internal", "admin"} {
		e.Endpoints = append(e.Endpoints, endpoint{
			ID: "hoard-object-store-" + iface, Interface: iface, Region: s.region, RegionID: s.region, URL: url,
		})
	}
	return e
}

// identityEntry lists this service itself: OSC's identity commands (project
// create, role add, ...) find the identity endpoint in the catalog.
func (s *Service) identityEntry(r *http.Request) catalogEntry {
	url := s.baseURL(r) + Prefix + "/v3"
	e := catalogEntry{ID: "hoard-identity", Type: "identity", Name: "keystone"}
	for _, iface := range []string{"public", "internal", "admin"} {
		e.Endpoints = append(e.Endpoints, endpoint{
			ID: "hoard-identity-" + iface, Interface: iface, Region: s.region, RegionID: s.region, URL: url,
		})
	}
	return e
}

// handleV3Issue serves POST /v3/auth/tokens.
func (s *Service) handleV3Issue(w http.ResponseWriter, r *http.Request) error {
	req, err := decodeV3AuthRequest(r.Body)
	if err != nil {
		return err
	}
	ctx := r.Context()
	var expires time.Time
	var user *model.User
	methods := []string{req.Method}
	switch req.Method {
	case methodPassword:
		if user, err = s.checkPassword(ctx, req.User, req.Password); err != nil {
			return err
		}
	case methodToken:
		old, err := s.validate(ctx, req.TokenID)
		if err != nil {
			return err
		}
		user, expires = &old.user, old.token.ExpiresAt
	}
	p, roles, err := s.scope(ctx, user, req.Project, !req.Unscoped && req.Method == methodPassword)
	if err != nil {
		return err
	}
	tok, ss, err := s.issue(ctx, user, p, roles, methods, expires)
	if err != nil {
		return err
	}
	w.Header().Set("X-Subject-Token", string(tok))
	writeJSON(w, http.StatusCreated, s.v3Body(r, ss, true))
	return nil
}

// subjectSession validates the caller's X-Auth-Token and the subject token
// X-Subject-Token: a bad caller token is Unauthorized, a bad subject token
// NotFound, and someone else's token Forbidden unless the caller is admin.
func (s *Service) subjectSession(r *http.Request) (*session, error) {
	const op = "identity.subject_token"
	caller, err := s.requestSession(r)
	if err != nil {
		return nil, err
	}
	subj, err := s.validate(r.Context(), r.Header.Get("X-Subject-Token"))
	if fault.Is(err, fault.Unauthorized) {
		return nil, fault.Wrap(fault.NotFound, op, "Could not find token.", err)
	}
	if err != nil {
		return nil, err
	}
	if subj.user.ID != caller.user.ID && !caller.principal().IsAdmin() {
		return nil, fault.New(fault.Forbidden, op, "You are not authorized to perform the requested action.")
	}
	return subj, nil
}

// handleV3Validate serves GET /v3/auth/tokens.
func (s *Service) handleV3Validate(w http.ResponseWriter, r *http.Request) error {
	ss, err := s.subjectSession(r)
	if err != nil {
		return err
	}
	_, noCatalog := r.URL.Query()["nocatalog"]
	w.Header().Set("X-Subject-Token", r.Header.Get("X-Subject-Token"))
	writeJSON(w, http.StatusOK, s.v3Body(r, ss, !noCatalog))
	return nil
}

// handleV3Check serves HEAD /v3/auth/tokens.
func (s *Service) handleV3Check(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.subjectSession(r); err != nil {
		return err
	}
	w.Header().Set("X-Subject-Token", r.Header.Get("X-Subject-Token"))
	w.WriteHeader(http.StatusOK)
	return nil
}

// handleV3Revoke serves DELETE /v3/auth/tokens.
func (s *Service) handleV3Revoke(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.subjectSession(r); err != nil {
		return err
	}
	if err := s.Revoke(r.Context(), r.Header.Get("X-Subject-Token")); err != nil {
		return fmt.Errorf("identity.revoke: %w", err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

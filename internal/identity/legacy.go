package identity

import (
	"net/http"
	"time"

	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
)

// Keystone v2.0 and Rackspace-style v1 authentication, for older clients
// (troveclient's legacy HTTPClient, OSC's v2password).

type v2AuthJSON struct {
	Auth *struct {
		PasswordCredentials *struct {
			Username string `json:"username"`
			Password string `json:"password"`
		} `json:"passwordCredentials"`
		Token *struct {
			ID string `json:"id"`
		} `json:"token"`
		TenantName string `json:"tenantName"`
		TenantID   string `json:"tenantId"`
	} `json:"auth"`
}

type (
	v2Access struct {
		Access v2AccessBody `json:"access"`
	}
	v2AccessBody struct {
		Token          v2Token          `json:"token"`
		ServiceCatalog []v2CatalogEntry `json:"serviceCatalog"`
		User           v2User           `json:"user"`
		Metadata       v2Metadata       `json:"metadata"`
	}
	v2Token struct {
		ID       string    `json:"id"`
		Expires  string    `json:"expires"`
		IssuedAt string    `json:"issued_at"`
		AuditIDs []string  `json:"audit_ids"`
		Tenant   *v2Tenant `json:"tenant,omitempty"`
	}
	v2Tenant struct {
		ID          string `json:"id"`
		Name        string `json:"name"`
		Description string `json:"description"`
		Enabled     bool   `json:"enabled"`
	}
	v2CatalogEntry struct {
		Type           string       `json:"type"`
		Name           string       `json:"name"`
		Endpoints      []v2Endpoint `json:"endpoints"`
		EndpointsLinks []link       `json:"endpoints_links"`
	}
	v2Endpoint struct {
		ID          string `json:"id"`
		Region      string `json:"region"`
		PublicURL   string `json:"publicURL"`
		InternalURL string `json:"internalURL"`
		AdminURL    string `json:"adminURL"`
	}
	v2User struct {
		ID         string   `json:"id"`
		Name       string   `json:"name"`
		Username   string   `json:"username"`
		Roles      []v2Role `json:"roles"`
		RolesLinks []link   `json:"roles_links"`
	}
	v2Role struct {
		Name string `json:"name"`
	}
	v2Metadata struct {
		IsAdmin int      `json:"is_admin"`
		Roles   []string `json:"roles"`
	}
)

// handleV2Issue serves POST /v2.0/tokens.
func (s *Service) handleV2Issue(w http.ResponseWriter, r *http.Request) error {
	const op = "identity.v2_tokens"
	var body v2AuthJSON
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if body.Auth == nil {
		return fault.New(fault.Invalid, op, "'auth' is a required property")
	}
	a := body.Auth
	ctx := r.Context()
	var (
		user    *model.User
		expires time.Time
		method  string
		err     error
	)
	switch {
	case a.PasswordCredentials != nil:
		if a.PasswordCredentials.Username == "" {
			return fault.New(fault.Invalid, op, "'username' is a required property")
		}
		user, err = s.checkPassword(ctx, userRef{Name: a.PasswordCredentials.Username}, a.PasswordCredentials.Password)
		method = methodPassword
	case a.Token != nil:
		var old *session
		old, err = s.validate(ctx, a.Token.ID)
		if err == nil {
			user, expires = &old.user, old.token.ExpiresAt
		}
		method = methodToken
	default:
		return fault.New(fault.Invalid, op, "'passwordCredentials' or 'token' is required")
	}
	if err != nil {
		return err
	}
	ref := projectRef{ID: a.TenantID, Name: a.TenantName}
	if ref.ID != "" {
		ref.Name = ""
	}
	p, roles, err := s.scope(ctx, user, ref, method == methodPassword)
	if err != nil {
		return err
	}
	tok, ss, err := s.issue(ctx, user, p, roles, []string{method}, expires)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.v2Body(r, tok, ss))
	return nil
}

func (s *Service) v2Body(r *http.Request, tok Token, ss *session) v2Access {
	a := v2AccessBody{
		Token: v2Token{
			ID:       string(tok),
			Expires:  ss.token.ExpiresAt.UTC().Format(v2TimeLayout),
			IssuedAt: ss.token.IssuedAt.UTC().Format(v3TimeLayout),
			AuditIDs: []string{auditID(ss.token.Hash)},
		},
		ServiceCatalog: []v2CatalogEntry{},
		User: v2User{
			ID: ss.user.ID, Name: ss.user.Name, Username: ss.user.Name,
			Roles: []v2Role{}, RolesLinks: []link{},
		},
		Metadata: v2Metadata{Roles: []string{}},
	}
	if p := ss.project; p != nil {
		a.Token.Tenant = &v2Tenant{ID: p.ID, Name: p.Name, Description: p.Description, Enabled: p.Enabled}
		url := s.databaseURL(r, p.ID)
		a.ServiceCatalog = append(a.ServiceCatalog, v2CatalogEntry{
			Type: "database", Name: "trove", EndpointsLinks: []link{},
			Endpoints: []v2Endpoint{{
				ID: "hoard-database", Region: s.region, PublicURL: url, InternalURL: url, AdminURL: url,
			}},
		})
		if s.swift != "" {
			swiftURL := url + s.swift
			a.ServiceCatalog = append(a.ServiceCatalog, v2CatalogEntry{
				Type: "object-store", Name: "swift", EndpointsLinks: []link{},
				Endpoints: []v2Endpoint{{
					ID: "hoard-object-store", Region: s.region, PublicURL: swiftURL, InternalURL: swiftURL, AdminURL: swiftURL,
				}},
			})
		}
		idURL := s.baseURL(r) + Prefix + "/v2.0"
		a.ServiceCatalog = append(a.ServiceCatalog, v2CatalogEntry{
			Type: "identity", Name: "keystone", EndpointsLinks: []link{},
			Endpoints: []v2Endpoint{{
				ID: "hoard-identity", Region: s.region, PublicURL: idURL, InternalURL: idURL, AdminURL: idURL,
			}},
		})
		for _, role := range ss.token.Roles {
			a.User.Roles = append(a.User.Roles, v2Role{Name: role})
			a.Metadata.Roles = append(a.Metadata.Roles, role)
			if role == model.RoleAdmin {
				a.Metadata.IsAdmin = 1
			}
		}
	}
	return v2Access{Access: a}
}

// handleV2Tenants serves GET /v2.0/tenants: the token's user's projects.
func (s *Service) handleV2Tenants(w http.ResponseWriter, r *http.Request) error {
	ss, err := s.requestSession(r)
	if err != nil {
		return err
	}
	ps, err := s.ProjectsOf(r.Context(), ss.user.ID)
	if err != nil {
		return err
	}
	out := make([]v2Tenant, 0, len(ps))
	for _, p := range ps {
		out = append(out, v2Tenant{ID: p.ID, Name: p.Name, Description: p.Description, Enabled: p.Enabled})
	}
	writeJSON(w, http.StatusOK, map[string]any{"tenants": out, "tenants_links": []link{}})
	return nil
}

// handleV1Auth serves the Rackspace/Swift-style v1 auth that troveclient's
// legacy HTTPClient does with --bypass-url (troveclient/client.py:_v1_auth):
// GET with X-Auth-User, X-Auth-Key and X-Auth-Project-Id answers 204 with
// X-Auth-Token and X-Server-Management-Url.
func (s *Service) handleV1Auth(w http.ResponseWriter, r *http.Request) error {
	const op = "identity.v1_auth"
	user, key := r.Header.Get("X-Auth-User"), r.Header.Get("X-Auth-Key")
	if user == "" || key == "" {
		return fault.New(fault.Unauthorized, op, "X-Auth-User and X-Auth-Key are required.")
	}
	tok, pr, err := s.Login(r.Context(), user, key, r.Header.Get("X-Auth-Project-Id"))
	if err != nil {
		return err
	}
	if pr.ProjectID == "" {
		if err := s.Revoke(r.Context(), string(tok)); err != nil {
			return err
		}
		return fault.New(fault.Unauthorized, op, "X-Auth-Project-Id is required: the user has several projects.")
	}
	w.Header().Set("X-Auth-Token", string(tok))
	w.Header().Set("X-Server-Management-Url", s.databaseURL(r, pr.ProjectID))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

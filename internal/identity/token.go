package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

// tokenBytes is the entropy of a token; its text is the base64url encoding.
const (
	tokenBytes     = 32
	maxTokenLength = 256 // longer header values are not ours; refuse early
)

// Token is an issued token's secret text. It logs as "REDACTED".
type Token string

// LogValue implements slog.LogValuer.
func (Token) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// PlausibleToken reports whether s could be a token: 1 to 256 visible ASCII
// characters (hoard's tokens are base64url; Keystone's UUID, Fernet and PKI
// tokens are visible ASCII too). Anything else (empty, too long, a space, a
// control byte, non-ASCII) is refused before any lookup, as Unauthorized.
// The API checks the X-Auth-Token header with it before it calls an
// Authenticator.
func PlausibleToken(s string) bool {
	if s == "" || len(s) > maxTokenLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

func hashToken(raw string) []byte {
	h := sha256.Sum256([]byte(raw))
	return h[:]
}

// session is a validated token with its user and (if scoped) project.
type session struct {
	token   model.Token
	user    model.User
	project *model.Project // nil when unscoped
}

func (ss *session) principal() *Principal {
	p := &Principal{
		UserID:    ss.user.ID,
		UserName:  ss.user.Name,
		Roles:     append([]string(nil), ss.token.Roles...),
		ExpiresAt: ss.token.ExpiresAt,
	}
	if ss.project != nil {
		p.ProjectID = ss.project.ID
		p.ProjectName = ss.project.Name
	}
	return p
}

// issue creates and stores a token for u scoped to p (nil: unscoped) with
// roles. expires zero means now+TokenTTL.
func (s *Service) issue(ctx context.Context, u *model.User, p *model.Project, roles, methods []string, expires time.Time) (Token, *session, error) {
	const op = "identity.issue_token"
	var b [tokenBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, fmt.Errorf("%s: random: %w", op, err)
	}
	raw := base64.RawURLEncoding.EncodeToString(b[:])
	now := s.now().UTC()
	if expires.IsZero() {
		expires = now.Add(s.ttl)
	}
	t := model.Token{
		Hash:      hashToken(raw),
		UserID:    u.ID,
		Roles:     roles,
		Methods:   methods,
		IssuedAt:  now.Truncate(time.Microsecond),
		ExpiresAt: expires.UTC().Truncate(time.Microsecond),
	}
	if p != nil {
		t.ProjectID = p.ID
	} else {
		t.Roles = nil
	}
	s.prune(ctx, now)
	if err := s.st.CreateToken(ctx, t); err != nil {
		return "", nil, fmt.Errorf("%s: %w", op, err)
	}
	s.log.DebugContext(ctx, "token issued", "user_id", u.ID, "project_id", t.ProjectID)
	return Token(raw), &session{token: t, user: *u, project: p}, nil
}

// prune deletes expired tokens, at most once per pruneInterval.
func (s *Service) prune(ctx context.Context, now time.Time) {
	s.pruneMu.Lock()
	due := now.Sub(s.lastPrune) >= pruneInterval || now.Before(s.lastPrune)
	if due {
		s.lastPrune = now
	}
	s.pruneMu.Unlock()
	if !due {
		return
	}
	n, err := s.st.DeleteExpiredTokens(ctx, now)
	if err != nil {
		s.log.WarnContext(ctx, "pruning expired tokens failed", "err", err)
		return
	}
	if n > 0 {
		s.log.DebugContext(ctx, "pruned expired tokens", "count", n)
	}
}

// validate looks up a token: it must exist, be unexpired, and its user (and
// project) must still exist and be enabled. Otherwise the error is
// fault.Unauthorized.
func (s *Service) validate(ctx context.Context, raw string) (*session, error) {
	const op = "identity.validate_token"
	bad := fault.New(fault.Unauthorized, op, "The request you have made requires authentication.")
	if !PlausibleToken(raw) {
		return nil, bad
	}
	t, err := s.st.GetToken(ctx, hashToken(raw))
	if errors.Is(err, store.ErrNotFound) {
		return nil, bad
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if !s.now().Before(t.ExpiresAt) {
		return nil, bad
	}
	u, err := s.st.GetUser(ctx, t.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, bad
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if !u.Enabled {
		return nil, bad
	}
	ss := &session{token: *t, user: *u}
	if t.ProjectID != "" {
		p, err := s.st.GetProject(ctx, t.ProjectID)
		if errors.Is(err, store.ErrNotFound) {
			return nil, bad
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		if !p.Enabled {
			return nil, bad
		}
		ss.project = p
	}
	return ss, nil
}

// Authenticate implements api.Authenticator: it returns the principal of a
// valid, unexpired token. A missing, unknown, expired or revoked token is a
// fault.Unauthorized error.
func (s *Service) Authenticate(ctx context.Context, token string) (*Principal, error) {
	if !PlausibleToken(token) {
		return nil, fault.New(fault.Unauthorized, "identity.validate_token", "The request you have made requires authentication.")
	}
	hash := hashToken(token)
	now := s.now()
	if p, ok := s.cache.get(hash, now); ok {
		return p, nil
	}
	ss, err := s.validate(ctx, token)
	if err != nil {
		return nil, err
	}
	p := ss.principal()
	s.cache.put(hash, p, now)
	return p, nil
}

// Revoke deletes a token; revoking an unknown token is not an error.
func (s *Service) Revoke(ctx context.Context, token string) error {
	if !PlausibleToken(token) {
		return nil
	}
	s.cache.drop(hashToken(token))
	err := s.st.DeleteToken(ctx, hashToken(token))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("identity.revoke_token: %w", err)
	}
	return nil
}

// Login checks userName's password and issues a token scoped to project
// (id or name; "" picks the user's only project, or leaves it unscoped). It
// returns the token and its principal. Wrong credentials or no role on the
// project are fault.Unauthorized.
func (s *Service) Login(ctx context.Context, userName, password, project string) (Token, *Principal, error) {
	u, err := s.checkPassword(ctx, userRef{Name: userName}, password)
	if err != nil {
		return "", nil, err
	}
	p, roles, err := s.scopeIDOrName(ctx, u, project)
	if err != nil {
		return "", nil, err
	}
	tok, ss, err := s.issue(ctx, u, p, roles, []string{"password"}, time.Time{})
	if err != nil {
		return "", nil, err
	}
	return tok, ss.principal(), nil
}

// scopeIDOrName scopes to a project given by id or else by name.
func (s *Service) scopeIDOrName(ctx context.Context, u *model.User, project string) (*model.Project, []string, error) {
	if project == "" {
		return s.scope(ctx, u, projectRef{}, true)
	}
	p, roles, err := s.scope(ctx, u, projectRef{ID: project}, true)
	if fault.Is(err, fault.Unauthorized) {
		return s.scope(ctx, u, projectRef{Name: project}, true)
	}
	return p, roles, err
}

package identity

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/safetext"
	"github.com/hoard-db/hoard/internal/store"
)

// Defaults for [Config].
const (
	DefaultRegion   = "RegionOne"
	DefaultTokenTTL = 12 * time.Hour
)

// Limits on names and passwords.
const (
	maxNameLen     = 255
	maxPasswordLen = 72 // bcrypt ignores (and x/crypto refuses) longer passwords
	pruneInterval  = time.Minute
)

// Config configures a [Service].
type Config struct {
	// PublicURL is the base URL of this hoard, e.g. "http://127.0.0.1:8779".
	// The catalog's database endpoint is PublicURL+"/v1.0/"+projectID and
	// the identity URLs are PublicURL+"/identity/v3" and so on. If empty,
	// it is derived from each request's Host header.
	PublicURL string
	// Region is the catalog region; DefaultRegion if empty.
	Region string
	// TokenTTL is how long an issued token is valid; DefaultTokenTTL if 0.
	TokenTTL time.Duration
	// Now is the clock; time.Now if nil.
	Now func() time.Time
	// Logger receives the service's logs; slog.Default() if nil.
	Logger *slog.Logger
	// ValidationCacheTTL is how long a validated token is trusted without
	// a store lookup: DefaultValidationCacheTTL if 0, no cache if < 0. A
	// change made through another process (a deleted user, a revoked role,
	// a changed password) stops that user's tokens here within this time.
	ValidationCacheTTL time.Duration
	// ObjectStorePath, if set, adds an "object-store" entry to the catalog
	// at the project's database URL plus this path: the read-only,
	// Swift-compatible view of the published guest logs that Trove's
	// clients download them from (troveclient's log save and tail ask
	// the catalog for Swift).
	ObjectStorePath string
}

// Service is the built-in identity service. It is safe for concurrent use.
type Service struct {
	st     store.Identity
	public string
	region string
	swift  string // Config.ObjectStorePath
	ttl    time.Duration
	now    func() time.Time
	log    *slog.Logger
	// cost is the bcrypt cost of new password hashes (tests lower it).
	cost int

	pruneMu   sync.Mutex
	lastPrune time.Time

	cache *validationCache
}

// New returns a Service that keeps its records in st. It panics if st is nil.
func New(st store.Identity, cfg Config) *Service {
	if st == nil {
		panic("identity: New with nil store")
	}
	s := &Service{
		st:     st,
		public: strings.TrimRight(cfg.PublicURL, "/"),
		region: cfg.Region,
		swift:  cfg.ObjectStorePath,
		ttl:    cfg.TokenTTL,
		now:    cfg.Now,
		log:    cfg.Logger,
		cost:   bcrypt.DefaultCost,
	}
	if s.region == "" {
		s.region = DefaultRegion
	}
	if s.ttl <= 0 {
		s.ttl = DefaultTokenTTL
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	ttl := cfg.ValidationCacheTTL
	if ttl == 0 {
		ttl = DefaultValidationCacheTTL
	}
	s.cache = newValidationCache(ttl)
	return s
}

// Roles returns the roles the service knows, sorted. They always exist
// (there is no role to create or delete); a role's ID is its name. What
// each allows is decided by [Principal.CanRead] and [Principal.CanWrite].
func Roles() []string {
	return []string{model.RoleAdmin, model.RoleCreator, model.RoleMember, model.RoleObserver, model.RoleReader}
}

func knownRole(r string) bool { return slices.Contains(Roles(), r) }

// newID returns a 32-hex-character random id, like Keystone's.
func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("identity: random id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

func validName(op, what, name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return fault.Errorf(fault.Invalid, op, "%s name must not be empty", what)
	case len(name) > maxNameLen:
		return fault.Errorf(fault.Invalid, op, "%s name must be at most %d bytes", what, maxNameLen)
	case !utf8.ValidString(name):
		return fault.Errorf(fault.Invalid, op, "%s name must be valid UTF-8", what)
	}
	return safeText(op, what+" name", name)
}

// safeText refuses a control or bidirectional formatting character in a
// name or description ([safetext.Check], the API's definition too).
func safeText(op, what, s string) error {
	var ue *safetext.UnsafeError
	if errors.As(safetext.Check(s), &ue) {
		if ue.Rune == utf8.RuneError {
			return fault.Errorf(fault.Invalid, op, "%s must be valid UTF-8", what)
		}
		return fault.Errorf(fault.Invalid, op, "%s must not contain control or bidirectional formatting characters (%U)",
			what, ue.Rune)
	}
	return nil
}

func (s *Service) hashPassword(op, password string) ([]byte, error) {
	switch {
	case password == "":
		return nil, fault.New(fault.Invalid, op, "password must not be empty")
	case len(password) > maxPasswordLen:
		return nil, fault.Errorf(fault.Invalid, op, "password must be at most %d bytes", maxPasswordLen)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), s.cost)
	if err != nil {
		return nil, fmt.Errorf("%s: hash password: %w", op, err)
	}
	return h, nil
}

// storeErr classifies a store error: ErrNotFound becomes NotFound with msg,
// ErrExists Conflict; anything else stays internal.
func storeErr(op, msg string, err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fault.Wrap(fault.NotFound, op, msg, err)
	case errors.Is(err, store.ErrExists):
		return fault.Wrap(fault.Conflict, op, msg, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// CreateProject creates an enabled project with a fresh id. A duplicate name
// is a fault.Conflict.
func (s *Service) CreateProject(ctx context.Context, name, description string) (*model.Project, error) {
	return s.createProject(ctx, name, description, true)
}

func (s *Service) createProject(ctx context.Context, name, description string, enabled bool) (*model.Project, error) {
	const op = "identity.create_project"
	if err := validName(op, "project", name); err != nil {
		return nil, err
	}
	if err := safeText(op, "project description", description); err != nil {
		return nil, err
	}
	id, err := newID()
	if err != nil {
		return nil, err
	}
	p := model.Project{ID: id, Name: name, Description: description, Enabled: enabled, Created: s.now().UTC()}
	if err := s.st.CreateProject(ctx, p); err != nil {
		return nil, storeErr(op, "a project with this name already exists", err)
	}
	s.log.InfoContext(ctx, "project created", "project_id", p.ID, "project_name", p.Name)
	return &p, nil
}

// CreateUser creates an enabled user with a fresh id and a bcrypt hash of
// password. A duplicate name is a fault.Conflict.
func (s *Service) CreateUser(ctx context.Context, name, password string) (*model.User, error) {
	return s.createUser(ctx, name, password, true)
}

func (s *Service) createUser(ctx context.Context, name, password string, enabled bool) (*model.User, error) {
	const op = "identity.create_user"
	if err := validName(op, "user", name); err != nil {
		return nil, err
	}
	hash, err := s.hashPassword(op, password)
	if err != nil {
		return nil, err
	}
	id, err := newID()
	if err != nil {
		return nil, err
	}
	u := model.User{ID: id, Name: name, PasswordHash: hash, Enabled: enabled, Created: s.now().UTC()}
	if err := s.st.CreateUser(ctx, u); err != nil {
		return nil, storeErr(op, "a user with this name already exists", err)
	}
	s.log.InfoContext(ctx, "user created", "user_id", u.ID, "user_name", u.Name)
	return &u, nil
}

// SetPassword replaces user userID's password and revokes its tokens.
func (s *Service) SetPassword(ctx context.Context, userID, password string) error {
	const op = "identity.set_password"
	hash, err := s.hashPassword(op, password)
	if err != nil {
		return err
	}
	if err := s.st.SetUserPassword(ctx, userID, hash); err != nil {
		return storeErr(op, "user not found", err)
	}
	return s.revokeUser(ctx, op, userID)
}

// GrantRole gives user userID the role (one of [Roles]) on project
// projectID. It is idempotent. Unknown users, projects and roles are
// fault.NotFound.
func (s *Service) GrantRole(ctx context.Context, userID, projectID, role string) error {
	const op = "identity.grant_role"
	if !knownRole(role) {
		return fault.Errorf(fault.NotFound, op, "could not find role: %s", role)
	}
	if _, err := s.st.GetUser(ctx, userID); err != nil {
		return storeErr(op, "could not find user: "+userID, err)
	}
	if _, err := s.st.GetProject(ctx, projectID); err != nil {
		return storeErr(op, "could not find project: "+projectID, err)
	}
	// A grant that is there already is neither written nor logged again
	// (Bootstrap grants the admin role at every start).
	have, err := s.st.Roles(ctx, userID, projectID)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if slices.Contains(have, role) {
		return nil
	}
	if err := s.st.GrantRole(ctx, model.RoleAssignment{UserID: userID, ProjectID: projectID, Role: role}); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	s.log.InfoContext(ctx, "role granted", "user_id", userID, "project_id", projectID, "role", role)
	return nil
}

// FindProject returns the project whose id, or else name, is idOrName.
func (s *Service) FindProject(ctx context.Context, idOrName string) (*model.Project, error) {
	const op = "identity.find_project"
	p, err := s.st.GetProject(ctx, idOrName)
	if errors.Is(err, store.ErrNotFound) {
		p, err = s.st.GetProjectByName(ctx, idOrName)
	}
	if err != nil {
		return nil, storeErr(op, "could not find project: "+idOrName, err)
	}
	return p, nil
}

// FindUser returns the user whose id, or else name, is idOrName.
func (s *Service) FindUser(ctx context.Context, idOrName string) (*model.User, error) {
	const op = "identity.find_user"
	u, err := s.st.GetUser(ctx, idOrName)
	if errors.Is(err, store.ErrNotFound) {
		u, err = s.st.GetUserByName(ctx, idOrName)
	}
	if err != nil {
		return nil, storeErr(op, "could not find user: "+idOrName, err)
	}
	return u, nil
}

// ListProjects returns every project.
func (s *Service) ListProjects(ctx context.Context) ([]model.Project, error) {
	ps, err := s.st.ListProjects(ctx)
	if err != nil {
		return nil, fmt.Errorf("identity.list_projects: %w", err)
	}
	return ps, nil
}

// ListUsers returns every user.
func (s *Service) ListUsers(ctx context.Context) ([]model.User, error) {
	us, err := s.st.ListUsers(ctx)
	if err != nil {
		return nil, fmt.Errorf("identity.list_users: %w", err)
	}
	return us, nil
}

// ProjectsOf returns the projects user userID has any role on.
func (s *Service) ProjectsOf(ctx context.Context, userID string) ([]model.Project, error) {
	ps, err := s.st.ProjectsOf(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("identity.projects_of: %w", err)
	}
	return ps, nil
}

// Bootstrap makes sure project projectName and user userName exist and that
// the user has the admin role on the project. It is idempotent; an existing
// user keeps its password.
func (s *Service) Bootstrap(ctx context.Context, userName, password, projectName string) error {
	const op = "identity.bootstrap"
	p, err := s.st.GetProjectByName(ctx, projectName)
	if errors.Is(err, store.ErrNotFound) {
		p, err = s.CreateProject(ctx, projectName, "hoard bootstrap project")
		if fault.Is(err, fault.Conflict) { // created concurrently
			p, err = s.st.GetProjectByName(ctx, projectName)
		}
	}
	if err != nil {
		return fmt.Errorf("%s: project: %w", op, err)
	}
	u, err := s.st.GetUserByName(ctx, userName)
	if errors.Is(err, store.ErrNotFound) {
		u, err = s.CreateUser(ctx, userName, password)
		if fault.Is(err, fault.Conflict) {
			u, err = s.st.GetUserByName(ctx, userName)
		}
	}
	if err != nil {
		return fmt.Errorf("%s: user: %w", op, err)
	}
	if err := s.GrantRole(ctx, u.ID, p.ID, model.RoleAdmin); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// dummyHash is compared against when the user does not exist, so that a
// failed login takes as long for an unknown user as for a wrong password.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("hoard-no-such-user"), bcrypt.DefaultCost)
	return h
})

// userRef names a user by id, or by name within a domain.
type userRef struct {
	ID         string
	Name       string
	DomainID   string
	DomainName string
}

// checkDomain accepts only the default domain (or none given).
func checkDomain(id, name string) bool {
	return (id == "" || id == model.DefaultDomainID) && (name == "" || name == model.DefaultDomainName)
}

var errBadCredentials = fault.New(fault.Unauthorized, "identity.authenticate", "The request you have made requires authentication.")

// checkPassword returns the enabled user ref names if password is right,
// else errBadCredentials.
func (s *Service) checkPassword(ctx context.Context, ref userRef, password string) (*model.User, error) {
	var (
		u   *model.User
		err error
	)
	switch {
	case !checkDomain(ref.DomainID, ref.DomainName):
		err = store.ErrNotFound
	case ref.ID != "":
		u, err = s.st.GetUser(ctx, ref.ID)
	case ref.Name != "":
		u, err = s.st.GetUserByName(ctx, ref.Name)
	default:
		err = store.ErrNotFound
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("identity.authenticate: %w", err)
	}
	hash := dummyHash()
	if u != nil {
		hash = u.PasswordHash
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || u == nil || !u.Enabled {
		s.log.DebugContext(ctx, "password authentication failed", "user_name", ref.Name, "user_id", ref.ID)
		return nil, errBadCredentials
	}
	return u, nil
}

// projectRef names a project by id, or by name within a domain.
type projectRef struct {
	ID         string
	Name       string
	DomainID   string
	DomainName string
}

func (r projectRef) empty() bool { return r.ID == "" && r.Name == "" }

// scope resolves a project scope for user u: the project and u's roles on
// it. An empty ref with defaultScope picks u's only project, if it has
// exactly one; otherwise the token is unscoped (nil project).
func (s *Service) scope(ctx context.Context, u *model.User, ref projectRef, defaultScope bool) (*model.Project, []string, error) {
	const op = "identity.scope"
	denied := fault.New(fault.Unauthorized, op, "User has no access to the requested project.")
	var (
		p   *model.Project
		err error
	)
	switch {
	case ref.empty():
		if !defaultScope {
			return nil, nil, nil
		}
		ps, err := s.st.ProjectsOf(ctx, u.ID)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", op, err)
		}
		ps = slices.DeleteFunc(ps, func(p model.Project) bool { return !p.Enabled })
		if len(ps) != 1 {
			return nil, nil, nil
		}
		p = &ps[0]
	case !checkDomain(ref.DomainID, ref.DomainName):
		return nil, nil, denied
	case ref.ID != "":
		p, err = s.st.GetProject(ctx, ref.ID)
	default:
		p, err = s.st.GetProjectByName(ctx, ref.Name)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, denied
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", op, err)
	}
	if !p.Enabled {
		return nil, nil, denied
	}
	roles, err := s.st.Roles(ctx, u.ID, p.ID)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", op, err)
	}
	if len(roles) == 0 {
		return nil, nil, denied
	}
	slices.Sort(roles)
	return p, roles, nil
}

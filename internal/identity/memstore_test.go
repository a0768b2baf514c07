package identity

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

// memStore is an in-memory store.Identity for tests.
type memStore struct {
	mu       sync.Mutex
	projects map[string]model.Project
	users    map[string]model.User
	roles    map[[2]string][]string // {user, project} → roles
	tokens   map[string]model.Token // by string(hash)
	// owned, if set, is what each project owns (DeleteProjectIfUnused).
	owned *fakeCounter
}

var _ store.Identity = (*memStore)(nil)

func newMemStore() *memStore {
	return &memStore{
		projects: map[string]model.Project{},
		users:    map[string]model.User{},
		roles:    map[[2]string][]string{},
		tokens:   map[string]model.Token{},
	}
}

func (m *memStore) CreateProject(_ context.Context, p model.Project) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, q := range m.projects {
		if q.ID == p.ID || q.Name == p.Name {
			return store.ErrExists
		}
	}
	m.projects[p.ID] = p
	return nil
}

func (m *memStore) GetProject(_ context.Context, id string) (*model.Project, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.projects[id]
	if !ok {
		return nil, store.ErrNotFound
	}
	return &p, nil
}

func (m *memStore) GetProjectByName(_ context.Context, name string) (*model.Project, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range m.projects {
		if p.Name == name {
			return &p, nil
		}
	}
	return nil, store.ErrNotFound
}

func (m *memStore) ListProjects(context.Context) ([]model.Project, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]model.Project, 0, len(m.projects))
	for _, p := range m.projects {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b model.Project) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (m *memStore) CreateUser(_ context.Context, u model.User) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, v := range m.users {
		if v.ID == u.ID || v.Name == u.Name {
			return store.ErrExists
		}
	}
	m.users[u.ID] = u
	return nil
}

func (m *memStore) GetUser(_ context.Context, id string) (*model.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[id]
	if !ok {
		return nil, store.ErrNotFound
	}
	return &u, nil
}

func (m *memStore) GetUserByName(_ context.Context, name string) (*model.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, u := range m.users {
		if u.Name == name {
			return &u, nil
		}
	}
	return nil, store.ErrNotFound
}

func (m *memStore) ListUsers(context.Context) ([]model.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]model.User, 0, len(m.users))
	for _, u := range m.users {
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b model.User) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (m *memStore) SetUserPassword(_ context.Context, id string, hash []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[id]
	if !ok {
		return store.ErrNotFound
	}
	u.PasswordHash = hash
	m.users[id] = u
	return nil
}

func (m *memStore) GrantRole(_ context.Context, a model.RoleAssignment) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := [2]string{a.UserID, a.ProjectID}
	if !slices.Contains(m.roles[k], a.Role) {
		m.roles[k] = append(m.roles[k], a.Role)
	}
	return nil
}

func (m *memStore) Roles(_ context.Context, userID, projectID string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.roles[[2]string{userID, projectID}]), nil
}

func (m *memStore) ProjectsOf(_ context.Context, userID string) ([]model.Project, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []model.Project
	for k, rs := range m.roles {
		if k[0] == userID && len(rs) > 0 {
			if p, ok := m.projects[k[1]]; ok {
				out = append(out, p)
			}
		}
	}
	slices.SortFunc(out, func(a, b model.Project) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (m *memStore) CreateToken(_ context.Context, t model.Token) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.tokens[string(t.Hash)]; ok {
		return store.ErrExists
	}
	t.Roles = slices.Clone(t.Roles)
	m.tokens[string(t.Hash)] = t
	return nil
}

func (m *memStore) GetToken(_ context.Context, hash []byte) (*model.Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tokens[string(hash)]
	if !ok {
		return nil, store.ErrNotFound
	}
	t.Roles = slices.Clone(t.Roles)
	return &t, nil
}

func (m *memStore) DeleteToken(_ context.Context, hash []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.tokens[string(hash)]; !ok {
		return store.ErrNotFound
	}
	delete(m.tokens, string(hash))
	return nil
}

func (m *memStore) DeleteExpiredTokens(_ context.Context, now time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for k, t := range m.tokens {
		if t.ExpiresAt.Before(now) {
			delete(m.tokens, k)
			n++
		}
	}
	return n, nil
}

func (m *memStore) tokenCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.tokens)
}

// tokenHashes returns every stored token hash.
func (m *memStore) tokenHashes() [][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out [][]byte
	for _, t := range m.tokens {
		out = append(out, t.Hash)
	}
	return out
}

func (m *memStore) UpdateProject(_ context.Context, p model.Project) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.projects[p.ID]
	if !ok {
		return store.ErrNotFound
	}
	for _, q := range m.projects {
		if q.ID != p.ID && q.Name == p.Name {
			return store.ErrExists
		}
	}
	old.Name, old.Description, old.Enabled = p.Name, p.Description, p.Enabled
	m.projects[p.ID] = old
	return nil
}

// DeleteProjectIfUnused asks m.owned (if set) what the project owns.
func (m *memStore) DeleteProjectIfUnused(ctx context.Context, id string) error {
	if m.owned != nil {
		m.mu.Lock()
		_, ok := m.projects[id]
		m.mu.Unlock()
		if !ok {
			return store.ErrNotFound
		}
		r, err := m.owned.ProjectResources(ctx, id)
		if err != nil {
			return err
		}
		if r.Any() {
			return &store.ProjectInUseError{ProjectID: id, Resources: r}
		}
	}
	return m.DeleteProject(ctx, id)
}

func (m *memStore) DeleteProject(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.projects[id]; !ok {
		return store.ErrNotFound
	}
	delete(m.projects, id)
	for k := range m.roles {
		if k[1] == id {
			delete(m.roles, k)
		}
	}
	for h, t := range m.tokens {
		if t.ProjectID == id {
			delete(m.tokens, h)
		}
	}
	return nil
}

func (m *memStore) UpdateUser(_ context.Context, u model.User) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.users[u.ID]
	if !ok {
		return store.ErrNotFound
	}
	for _, q := range m.users {
		if q.ID != u.ID && q.Name == u.Name {
			return store.ErrExists
		}
	}
	old.Name, old.Enabled = u.Name, u.Enabled
	m.users[u.ID] = old
	return nil
}

func (m *memStore) DeleteUser(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.users[id]; !ok {
		return store.ErrNotFound
	}
	delete(m.users, id)
	for k := range m.roles {
		if k[0] == id {
			delete(m.roles, k)
		}
	}
	m.deleteTokensLocked(id, "")
	return nil
}

func (m *memStore) RevokeRole(_ context.Context, a model.RoleAssignment) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := [2]string{a.UserID, a.ProjectID}
	i := slices.Index(m.roles[k], a.Role)
	if i < 0 {
		return store.ErrNotFound
	}
	m.roles[k] = slices.Delete(slices.Clone(m.roles[k]), i, i+1)
	m.deleteTokensLocked(a.UserID, a.ProjectID)
	return nil
}

func (m *memStore) RoleAssignments(_ context.Context, f model.RoleAssignment) ([]model.RoleAssignment, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []model.RoleAssignment{}
	for k, rs := range m.roles {
		for _, r := range rs {
			a := model.RoleAssignment{UserID: k[0], ProjectID: k[1], Role: r}
			if (f.UserID == "" || f.UserID == a.UserID) && (f.ProjectID == "" || f.ProjectID == a.ProjectID) &&
				(f.Role == "" || f.Role == a.Role) {
				out = append(out, a)
			}
		}
	}
	slices.SortFunc(out, func(a, b model.RoleAssignment) int {
		return strings.Compare(a.UserID+"\x00"+a.ProjectID+"\x00"+a.Role, b.UserID+"\x00"+b.ProjectID+"\x00"+b.Role)
	})
	return out, nil
}

func (m *memStore) DeleteUserTokens(_ context.Context, userID, projectID string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.deleteTokensLocked(userID, projectID), nil
}

func (m *memStore) deleteTokensLocked(userID, projectID string) int {
	n := 0
	for h, t := range m.tokens {
		if t.UserID == userID && (projectID == "" || t.ProjectID == projectID) {
			delete(m.tokens, h)
			n++
		}
	}
	return n
}

package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

func testProjects(t *testing.T, s store.Store) {
	ctx := t.Context()
	p1 := model.Project{ID: "p1", Name: "alpha", Description: "first", Enabled: true, Created: t0}
	p2 := model.Project{ID: "p2", Name: "beta", Enabled: false, Created: t0.Add(time.Hour)}
	noErr(t, "CreateProject", s.CreateProject(ctx, p1))
	noErr(t, "CreateProject", s.CreateProject(ctx, p2))
	wantErr(t, "CreateProject(duplicate id)", s.CreateProject(ctx, model.Project{ID: "p1", Name: "gamma", Created: t0}), store.ErrExists)
	wantErr(t, "CreateProject(duplicate name)", s.CreateProject(ctx, model.Project{ID: "p3", Name: "alpha", Created: t0}), store.ErrExists)

	got, err := s.GetProject(ctx, "p1")
	noErr(t, "GetProject", err)
	diff(t, "GetProject", got, &p1)
	checkUTC(t, "project", got.Created)
	got, err = s.GetProjectByName(ctx, "beta")
	noErr(t, "GetProjectByName", err)
	diff(t, "GetProjectByName", got, &p2)
	_, err = s.GetProject(ctx, "missing")
	wantErr(t, "GetProject(missing)", err, store.ErrNotFound)
	_, err = s.GetProjectByName(ctx, "missing")
	wantErr(t, "GetProjectByName(missing)", err, store.ErrNotFound)

	list, err := s.ListProjects(ctx)
	noErr(t, "ListProjects", err)
	diff(t, "ListProjects", sortProjects(list), []model.Project{p1, p2})
}

func sortProjects(ps []model.Project) []model.Project {
	slices.SortFunc(ps, func(a, b model.Project) int { return strings.Compare(a.ID, b.ID) })
	return ps
}

func testUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	u1 := model.User{ID: "u1", Name: "alice", PasswordHash: []byte("hash-1"), Enabled: true, Created: t0}
	u2 := model.User{ID: "u2", Name: "bob", Enabled: false, Created: t0.Add(time.Hour)}
	noErr(t, "CreateUser", s.CreateUser(ctx, u1))
	noErr(t, "CreateUser", s.CreateUser(ctx, u2))
	wantErr(t, "CreateUser(duplicate id)", s.CreateUser(ctx, model.User{ID: "u1", Name: "carol", Created: t0}), store.ErrExists)
	wantErr(t, "CreateUser(duplicate name)", s.CreateUser(ctx, model.User{ID: "u3", Name: "alice", Created: t0}), store.ErrExists)

	got, err := s.GetUser(ctx, "u1")
	noErr(t, "GetUser", err)
	diff(t, "GetUser", got, &u1)
	checkUTC(t, "user", got.Created)
	got, err = s.GetUserByName(ctx, "bob")
	noErr(t, "GetUserByName", err)
	diff(t, "GetUserByName", got, &u2)
	_, err = s.GetUser(ctx, "missing")
	wantErr(t, "GetUser(missing)", err, store.ErrNotFound)
	_, err = s.GetUserByName(ctx, "missing")
	wantErr(t, "GetUserByName(missing)", err, store.ErrNotFound)

	noErr(t, "SetUserPassword", s.SetUserPassword(ctx, "u2", []byte("hash-2")))
	got, err = s.GetUser(ctx, "u2")
	noErr(t, "GetUser", err)
	if string(got.PasswordHash) != "hash-2" {
		t.Errorf("after SetUserPassword: hash %q, want hash-2", got.PasswordHash)
	}
	wantErr(t, "SetUserPassword(missing)", s.SetUserPassword(ctx, "missing", []byte("x")), store.ErrNotFound)

	list, err := s.ListUsers(ctx)
	noErr(t, "ListUsers", err)
	slices.SortFunc(list, func(a, b model.User) int { return strings.Compare(a.ID, b.ID) })
	u2.PasswordHash = []byte("hash-2")
	diff(t, "ListUsers", list, []model.User{u1, u2})
}

func testRoles(t *testing.T, s store.Store) {
	ctx := t.Context()
	p1 := model.Project{ID: "p1", Name: "alpha", Enabled: true, Created: t0}
	p2 := model.Project{ID: "p2", Name: "beta", Enabled: true, Created: t0}
	for _, p := range []model.Project{p1, p2} {
		noErr(t, "CreateProject", s.CreateProject(ctx, p))
	}
	for _, u := range []string{"u1", "u2"} {
		noErr(t, "CreateUser", s.CreateUser(ctx, model.User{ID: u, Name: "name-" + u, Enabled: true, Created: t0}))
	}
	roles := func(user, project string) []string {
		t.Helper()
		r, err := s.Roles(ctx, user, project)
		noErr(t, "Roles", err)
		slices.Sort(r)
		return r
	}
	projectsOf := func(user string) []model.Project {
		t.Helper()
		ps, err := s.ProjectsOf(ctx, user)
		noErr(t, "ProjectsOf", err)
		return sortProjects(ps)
	}

	diff(t, "Roles(none)", roles("u1", "p1"), []string{})
	diff(t, "ProjectsOf(none)", projectsOf("u1"), []model.Project{})

	for range 2 { // idempotent
		noErr(t, "GrantRole", s.GrantRole(ctx, model.RoleAssignment{UserID: "u1", ProjectID: "p1", Role: model.RoleMember}))
	}
	diff(t, "Roles after grant", roles("u1", "p1"), []string{model.RoleMember})
	noErr(t, "GrantRole", s.GrantRole(ctx, model.RoleAssignment{UserID: "u1", ProjectID: "p1", Role: model.RoleAdmin}))
	diff(t, "Roles after second grant", roles("u1", "p1"), []string{model.RoleAdmin, model.RoleMember})
	diff(t, "Roles on other project", roles("u1", "p2"), []string{})
	diff(t, "Roles of other user", roles("u2", "p1"), []string{})
	diff(t, "ProjectsOf(u1)", projectsOf("u1"), []model.Project{p1})

	noErr(t, "GrantRole", s.GrantRole(ctx, model.RoleAssignment{UserID: "u1", ProjectID: "p2", Role: model.RoleMember}))
	diff(t, "ProjectsOf(u1) after p2", projectsOf("u1"), []model.Project{p1, p2})
	diff(t, "ProjectsOf(u2)", projectsOf("u2"), []model.Project{})
}

func testTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := t0.Add(24 * time.Hour)
	live := model.Token{Hash: []byte("hash-live"), UserID: "u1", ProjectID: "p1", Roles: []string{"admin", "member"},
		Methods: []string{"password"}, IssuedAt: now.Add(-time.Hour), ExpiresAt: now.Add(time.Hour)}
	expired := model.Token{Hash: []byte("hash-old"), UserID: "u1", Methods: []string{"password", "token"},
		IssuedAt: now.Add(-3 * time.Hour), ExpiresAt: now.Add(-2 * time.Hour)}
	for _, tok := range []model.Token{live, expired} {
		noErr(t, "CreateToken", s.CreateToken(ctx, tok))
	}
	wantErr(t, "CreateToken(duplicate)", s.CreateToken(ctx, live), store.ErrExists)

	for _, want := range []model.Token{live, expired} {
		got, err := s.GetToken(ctx, want.Hash)
		noErr(t, "GetToken", err) // an expired token is still returned
		diff(t, "GetToken("+string(want.Hash)+")", got, &want)
		checkUTC(t, "token", got.IssuedAt, got.ExpiresAt)
	}
	_, err := s.GetToken(ctx, []byte("no-such-hash"))
	wantErr(t, "GetToken(missing)", err, store.ErrNotFound)

	n, err := s.DeleteExpiredTokens(ctx, now)
	noErr(t, "DeleteExpiredTokens", err)
	if n != 1 {
		t.Errorf("DeleteExpiredTokens = %d, want 1", n)
	}
	_, err = s.GetToken(ctx, expired.Hash)
	wantErr(t, "GetToken(expired, deleted)", err, store.ErrNotFound)
	_, err = s.GetToken(ctx, live.Hash)
	noErr(t, "GetToken(live)", err)

	noErr(t, "DeleteToken", s.DeleteToken(ctx, live.Hash))
	_, err = s.GetToken(ctx, live.Hash)
	wantErr(t, "GetToken(deleted)", err, store.ErrNotFound)
}

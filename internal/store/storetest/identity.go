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

func testIdentityUpdate(t *testing.T, s store.Store) {
	ctx := t.Context()
	p1 := model.Project{ID: "p1", Name: "alpha", Description: "first", Enabled: true, Created: t0}
	p2 := model.Project{ID: "p2", Name: "beta", Enabled: true, Created: t0}
	u1 := model.User{ID: "u1", Name: "alice", PasswordHash: []byte("hash-1"), Enabled: true, Created: t0}
	u2 := model.User{ID: "u2", Name: "bob", Enabled: true, Created: t0}
	for _, p := range []model.Project{p1, p2} {
		noErr(t, "CreateProject", s.CreateProject(ctx, p))
	}
	for _, u := range []model.User{u1, u2} {
		noErr(t, "CreateUser", s.CreateUser(ctx, u))
	}

	// Created and the password hash are not written by an update.
	p1.Name, p1.Description, p1.Enabled = "alpha2", "renamed", false
	noErr(t, "UpdateProject", s.UpdateProject(ctx, model.Project{ID: "p1", Name: "alpha2", Description: "renamed", Created: t0.Add(time.Hour)}))
	got, err := s.GetProject(ctx, "p1")
	noErr(t, "GetProject", err)
	diff(t, "GetProject after UpdateProject", got, &p1)
	wantErr(t, "UpdateProject(name taken)", s.UpdateProject(ctx, model.Project{ID: "p1", Name: "beta"}), store.ErrExists)
	wantErr(t, "UpdateProject(missing)", s.UpdateProject(ctx, model.Project{ID: "p9", Name: "gamma"}), store.ErrNotFound)

	u1.Name, u1.Enabled = "alice2", false
	noErr(t, "UpdateUser", s.UpdateUser(ctx, model.User{ID: "u1", Name: "alice2", PasswordHash: []byte("other"), Created: t0.Add(time.Hour)}))
	gotU, err := s.GetUser(ctx, "u1")
	noErr(t, "GetUser", err)
	diff(t, "GetUser after UpdateUser", gotU, &u1)
	wantErr(t, "UpdateUser(name taken)", s.UpdateUser(ctx, model.User{ID: "u1", Name: "bob"}), store.ErrExists)
	wantErr(t, "UpdateUser(missing)", s.UpdateUser(ctx, model.User{ID: "u9", Name: "carol"}), store.ErrNotFound)
}

// testIdentityDelete covers deletes, revocations and assignment listing,
// and that each takes the tokens it must with it (and no others).
func testIdentityDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, p := range []string{"p1", "p2"} {
		noErr(t, "CreateProject", s.CreateProject(ctx, model.Project{ID: p, Name: "name-" + p, Enabled: true, Created: t0}))
	}
	for _, u := range []string{"u1", "u2"} {
		noErr(t, "CreateUser", s.CreateUser(ctx, model.User{ID: u, Name: "name-" + u, Enabled: true, Created: t0}))
	}
	grants := []model.RoleAssignment{
		{UserID: "u1", ProjectID: "p1", Role: model.RoleMember},
		{UserID: "u1", ProjectID: "p1", Role: model.RoleReader},
		{UserID: "u1", ProjectID: "p2", Role: model.RoleMember},
		{UserID: "u2", ProjectID: "p1", Role: model.RoleAdmin},
		{UserID: "u2", ProjectID: "p2", Role: model.RoleReader},
	}
	for _, a := range grants {
		noErr(t, "GrantRole", s.GrantRole(ctx, a))
	}
	token := func(user, project string) []byte {
		h := []byte("hash-" + user + "-" + project)
		noErr(t, "CreateToken", s.CreateToken(ctx, model.Token{Hash: h, UserID: user, ProjectID: project,
			IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
		return h
	}
	alive := func(name string, h []byte, want bool) {
		t.Helper()
		_, err := s.GetToken(ctx, h)
		switch {
		case want:
			noErr(t, "GetToken("+name+")", err)
		default:
			wantErr(t, "GetToken("+name+")", err, store.ErrNotFound)
		}
	}
	assignments := func(f model.RoleAssignment) []model.RoleAssignment {
		t.Helper()
		as, err := s.RoleAssignments(ctx, f)
		noErr(t, "RoleAssignments", err)
		return as
	}

	diff(t, "RoleAssignments(all)", assignments(model.RoleAssignment{}), grants)
	diff(t, "RoleAssignments(u1)", assignments(model.RoleAssignment{UserID: "u1"}), grants[:3])
	diff(t, "RoleAssignments(p1)", assignments(model.RoleAssignment{ProjectID: "p1"}),
		[]model.RoleAssignment{grants[0], grants[1], grants[3]})
	diff(t, "RoleAssignments(u1, p1)", assignments(model.RoleAssignment{UserID: "u1", ProjectID: "p1"}), grants[:2])
	diff(t, "RoleAssignments(reader)", assignments(model.RoleAssignment{Role: model.RoleReader}),
		[]model.RoleAssignment{grants[1], grants[4]})
	diff(t, "RoleAssignments(none)", assignments(model.RoleAssignment{UserID: "u9"}), []model.RoleAssignment{})

	// RevokeRole takes the user's tokens on that project only.
	u1p1, u1p2, u1none := token("u1", "p1"), token("u1", "p2"), token("u1", "")
	noErr(t, "RevokeRole", s.RevokeRole(ctx, grants[1]))
	wantErr(t, "RevokeRole(again)", s.RevokeRole(ctx, grants[1]), store.ErrNotFound)
	diff(t, "RoleAssignments(u1, p1) after revoke", assignments(model.RoleAssignment{UserID: "u1", ProjectID: "p1"}), grants[:1])
	alive("u1/p1 after revoke", u1p1, false)
	alive("u1/p2 after revoke", u1p2, true)
	alive("u1 unscoped after revoke", u1none, true)

	// DeleteUserTokens: one project, then all.
	u1p1 = token("u1", "p1")
	n, err := s.DeleteUserTokens(ctx, "u1", "p2")
	noErr(t, "DeleteUserTokens(u1, p2)", err)
	if n != 1 {
		t.Errorf("DeleteUserTokens(u1, p2) = %d, want 1", n)
	}
	alive("u1/p1 after DeleteUserTokens(p2)", u1p1, true)
	alive("u1/p2 after DeleteUserTokens(p2)", u1p2, false)
	u2p1 := token("u2", "p1")
	n, err = s.DeleteUserTokens(ctx, "u1", "")
	noErr(t, "DeleteUserTokens(u1)", err)
	if n != 2 {
		t.Errorf("DeleteUserTokens(u1) = %d, want 2", n)
	}
	alive("u1/p1 after DeleteUserTokens", u1p1, false)
	alive("u2/p1 after DeleteUserTokens(u1)", u2p1, true)

	// DeleteProject takes its assignments and the tokens scoped to it.
	u1p1, u2p2 := token("u1", "p1"), token("u2", "p2")
	noErr(t, "DeleteProject", s.DeleteProject(ctx, "p1"))
	wantErr(t, "DeleteProject(again)", s.DeleteProject(ctx, "p1"), store.ErrNotFound)
	_, err = s.GetProject(ctx, "p1")
	wantErr(t, "GetProject(deleted)", err, store.ErrNotFound)
	diff(t, "RoleAssignments after DeleteProject", assignments(model.RoleAssignment{}), []model.RoleAssignment{grants[2], grants[4]})
	alive("u1/p1 after DeleteProject", u1p1, false)
	alive("u2/p1 after DeleteProject", u2p1, false)
	alive("u2/p2 after DeleteProject", u2p2, true)

	// DeleteUser takes its assignments and every token of it.
	u2none := token("u2", "")
	u1p2 = token("u1", "p2")
	noErr(t, "DeleteUser", s.DeleteUser(ctx, "u2"))
	wantErr(t, "DeleteUser(again)", s.DeleteUser(ctx, "u2"), store.ErrNotFound)
	_, err = s.GetUser(ctx, "u2")
	wantErr(t, "GetUser(deleted)", err, store.ErrNotFound)
	diff(t, "RoleAssignments after DeleteUser", assignments(model.RoleAssignment{}), []model.RoleAssignment{grants[2]})
	alive("u2/p2 after DeleteUser", u2p2, false)
	alive("u2 unscoped after DeleteUser", u2none, false)
	alive("u1/p2 after DeleteUser(u2)", u1p2, true)
}

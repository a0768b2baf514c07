package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

// CreateProject implements store.Identity.
func (s *Store) CreateProject(ctx context.Context, p model.Project) error {
	if p.Created.IsZero() {
		p.Created = s.now()
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO projects (id, name, description, enabled, created) VALUES (?, ?, ?, ?, ?)`,
		p.ID, p.Name, p.Description, p.Enabled, unix(p.Created))
	if isUnique(err) {
		err = store.ErrExists
	}
	if err != nil {
		return fmt.Errorf("sqlite: create project %s: %w", p.ID, err)
	}
	return nil
}

const projectCols = `id, name, description, enabled, created`

func scanProject(sc scanner) (*model.Project, error) {
	var p model.Project
	var created int64
	if err := sc.Scan(&p.ID, &p.Name, &p.Description, &p.Enabled, &created); err != nil {
		return nil, err
	}
	p.Created = fromUnix(created)
	return &p, nil
}

func (s *Store) getProject(ctx context.Context, what, where, arg string) (*model.Project, error) {
	p, err := scanProject(s.db.QueryRowContext(ctx, `SELECT `+projectCols+` FROM projects WHERE `+where+` = ?`, arg))
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get project %s %s: %w", what, arg, err)
	}
	return p, nil
}

// GetProject implements store.Identity.
func (s *Store) GetProject(ctx context.Context, id string) (*model.Project, error) {
	return s.getProject(ctx, "id", "id", id)
}

// GetProjectByName implements store.Identity.
func (s *Store) GetProjectByName(ctx context.Context, name string) (*model.Project, error) {
	return s.getProject(ctx, "name", "name", name)
}

func (s *Store) listProjects(ctx context.Context, query string, args ...any) ([]model.Project, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []model.Project
	for rows.Next() {
		p, err := scanProject(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *p)
	}
	return out, rows.Err()
}

// ListProjects implements store.Identity; projects are ordered by name.
func (s *Store) ListProjects(ctx context.Context) ([]model.Project, error) {
	out, err := s.listProjects(ctx, `SELECT `+projectCols+` FROM projects ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list projects: %w", err)
	}
	return out, nil
}

// CreateUser implements store.Identity.
func (s *Store) CreateUser(ctx context.Context, u model.User) error {
	if u.Created.IsZero() {
		u.Created = s.now()
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO users (id, name, password_hash, enabled, created) VALUES (?, ?, ?, ?, ?)`,
		u.ID, u.Name, u.PasswordHash, u.Enabled, unix(u.Created))
	if isUnique(err) {
		err = store.ErrExists
	}
	if err != nil {
		return fmt.Errorf("sqlite: create user %s: %w", u.ID, err)
	}
	return nil
}

const userCols = `id, name, password_hash, enabled, created`

func scanUser(sc scanner) (*model.User, error) {
	var u model.User
	var created int64
	if err := sc.Scan(&u.ID, &u.Name, &u.PasswordHash, &u.Enabled, &created); err != nil {
		return nil, err
	}
	u.Created = fromUnix(created)
	return &u, nil
}

func (s *Store) getUser(ctx context.Context, what, where, arg string) (*model.User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE `+where+` = ?`, arg))
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get user %s %s: %w", what, arg, err)
	}
	return u, nil
}

// GetUser implements store.Identity.
func (s *Store) GetUser(ctx context.Context, id string) (*model.User, error) {
	return s.getUser(ctx, "id", "id", id)
}

// GetUserByName implements store.Identity.
func (s *Store) GetUserByName(ctx context.Context, name string) (*model.User, error) {
	return s.getUser(ctx, "name", "name", name)
}

// ListUsers implements store.Identity; users are ordered by name.
func (s *Store) ListUsers(ctx context.Context) ([]model.User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+userCols+` FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list users: %w", err)
	}
	defer rows.Close()
	var out []model.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list users: %w", err)
		}
		out = append(out, *u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list users: %w", err)
	}
	return out, nil
}

// SetUserPassword implements store.Identity.
func (s *Store) SetUserPassword(ctx context.Context, id string, hash []byte) error {
	res, err := s.db.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE id = ?`, hash, id)
	if err == nil {
		var n int64
		if n, err = res.RowsAffected(); err == nil && n == 0 {
			err = store.ErrNotFound
		}
	}
	if err != nil {
		return fmt.Errorf("sqlite: set password of user %s: %w", id, err)
	}
	return nil
}

// GrantRole implements store.Identity. ErrNotFound if the user or the
// project does not exist.
func (s *Store) GrantRole(ctx context.Context, a model.RoleAssignment) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO role_assignments (user_id, project_id, role) VALUES (?, ?, ?)
		ON CONFLICT DO NOTHING`, a.UserID, a.ProjectID, a.Role)
	if isForeignKey(err) {
		err = store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("sqlite: grant role %s to user %s on project %s: %w", a.Role, a.UserID, a.ProjectID, err)
	}
	return nil
}

// Roles implements store.Identity; roles are ordered by name.
func (s *Store) Roles(ctx context.Context, userID, projectID string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT role FROM role_assignments WHERE user_id = ? AND project_id = ?
		ORDER BY role`, userID, projectID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: roles: %w", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return nil, fmt.Errorf("sqlite: roles: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: roles: %w", err)
	}
	return out, nil
}

// ProjectsOf implements store.Identity; projects are ordered by name.
func (s *Store) ProjectsOf(ctx context.Context, userID string) ([]model.Project, error) {
	out, err := s.listProjects(ctx, `SELECT `+projectCols+` FROM projects WHERE id IN
		(SELECT project_id FROM role_assignments WHERE user_id = ?) ORDER BY name`, userID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: projects of user %s: %w", userID, err)
	}
	return out, nil
}

// CreateToken implements store.Identity. ErrExists on a duplicate hash.
func (s *Store) CreateToken(ctx context.Context, t model.Token) error {
	roles, err := json.Marshal(t.Roles)
	if err != nil {
		return fmt.Errorf("sqlite: create token: %w", err)
	}
	methods, err := json.Marshal(t.Methods)
	if err != nil {
		return fmt.Errorf("sqlite: create token: %w", err)
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO tokens (hash, user_id, project_id, roles, methods, issued_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, t.Hash, t.UserID, t.ProjectID, string(roles), string(methods),
		unix(t.IssuedAt), unix(t.ExpiresAt))
	if isUnique(err) {
		err = store.ErrExists
	}
	if err != nil {
		// Never the hash: it identifies a live token.
		return fmt.Errorf("sqlite: create token for user %s: %w", t.UserID, err)
	}
	return nil
}

// GetToken implements store.Identity.
func (s *Store) GetToken(ctx context.Context, hash []byte) (*model.Token, error) {
	var (
		t                 model.Token
		roles, methods    string
		issued, expiresAt int64
	)
	err := s.db.QueryRowContext(ctx, `SELECT hash, user_id, project_id, roles, methods, issued_at, expires_at
		FROM tokens WHERE hash = ?`, hash).Scan(&t.Hash, &t.UserID, &t.ProjectID, &roles, &methods, &issued, &expiresAt)
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err == nil {
		err = json.Unmarshal([]byte(roles), &t.Roles)
	}
	if err == nil {
		err = json.Unmarshal([]byte(methods), &t.Methods)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get token: %w", err)
	}
	t.IssuedAt = fromUnix(issued)
	t.ExpiresAt = fromUnix(expiresAt)
	return &t, nil
}

// DeleteToken implements store.Identity. Deleting a missing token is not an
// error.
func (s *Store) DeleteToken(ctx context.Context, hash []byte) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM tokens WHERE hash = ?`, hash); err != nil {
		return fmt.Errorf("sqlite: delete token: %w", err)
	}
	return nil
}

// DeleteExpiredTokens implements store.Identity.
func (s *Store) DeleteExpiredTokens(ctx context.Context, now time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM tokens WHERE expires_at < ?`, unix(now))
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete expired tokens: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete expired tokens: %w", err)
	}
	return int(n), nil
}

// affected turns an UPDATE or DELETE result into ErrNotFound if it touched
// no row.
func affected(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return err
}

// UpdateProject implements store.Identity.
func (s *Store) UpdateProject(ctx context.Context, p model.Project) error {
	err := affected(s.db.ExecContext(ctx, `UPDATE projects SET name = ?, description = ?, enabled = ? WHERE id = ?`,
		p.Name, p.Description, p.Enabled, p.ID))
	if isUnique(err) {
		err = store.ErrExists
	}
	if err != nil {
		return fmt.Errorf("sqlite: update project %s: %w", p.ID, err)
	}
	return nil
}

// DeleteProject implements store.Identity; role assignments go by the
// foreign key's ON DELETE CASCADE.
func (s *Store) DeleteProject(ctx context.Context, id string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := affected(tx.ExecContext(ctx, `DELETE FROM projects WHERE id = ?`, id)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE project_id = ?`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: delete project %s: %w", id, err)
	}
	return nil
}

// DeleteProjectIfUnused implements store.Identity. Write transactions
// are serialised (BEGIN IMMEDIATE): no write adds to the project between
// the count and the commit.
func (s *Store) DeleteProjectIfUnused(ctx context.Context, id string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM projects WHERE id = ?`, id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		var r model.ProjectResources
		if err := tx.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM instances WHERE tenant_id = ?),
			(SELECT COUNT(*) FROM backups WHERE tenant_id = ?),
			(SELECT COUNT(*) FROM configurations WHERE tenant_id = ?)`, id, id, id).Scan(&r.Instances, &r.Backups, &r.Configurations); err != nil {
			return err
		}
		if r.Any() {
			return &store.ProjectInUseError{ProjectID: id, Resources: r}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM projects WHERE id = ?`, id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM tokens WHERE project_id = ?`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: delete project %s: %w", id, err)
	}
	return nil
}

// UpdateUser implements store.Identity.
func (s *Store) UpdateUser(ctx context.Context, u model.User) error {
	err := affected(s.db.ExecContext(ctx, `UPDATE users SET name = ?, enabled = ? WHERE id = ?`, u.Name, u.Enabled, u.ID))
	if isUnique(err) {
		err = store.ErrExists
	}
	if err != nil {
		return fmt.Errorf("sqlite: update user %s: %w", u.ID, err)
	}
	return nil
}

// DeleteUser implements store.Identity; role assignments go by the
// foreign key's ON DELETE CASCADE.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := affected(tx.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, id)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE user_id = ?`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: delete user %s: %w", id, err)
	}
	return nil
}

// RevokeRole implements store.Identity.
func (s *Store) RevokeRole(ctx context.Context, a model.RoleAssignment) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := affected(tx.ExecContext(ctx, `DELETE FROM role_assignments WHERE user_id = ? AND project_id = ? AND role = ?`,
			a.UserID, a.ProjectID, a.Role)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE user_id = ? AND project_id = ?`, a.UserID, a.ProjectID)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: revoke role %s of user %s on project %s: %w", a.Role, a.UserID, a.ProjectID, err)
	}
	return nil
}

// RoleAssignments implements store.Identity.
func (s *Store) RoleAssignments(ctx context.Context, f model.RoleAssignment) ([]model.RoleAssignment, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT user_id, project_id, role FROM role_assignments
		WHERE (? = '' OR user_id = ?) AND (? = '' OR project_id = ?) AND (? = '' OR role = ?)
		ORDER BY user_id, project_id, role`, f.UserID, f.UserID, f.ProjectID, f.ProjectID, f.Role, f.Role)
	if err != nil {
		return nil, fmt.Errorf("sqlite: role assignments: %w", err)
	}
	defer rows.Close()
	out := []model.RoleAssignment{}
	for rows.Next() {
		var a model.RoleAssignment
		if err := rows.Scan(&a.UserID, &a.ProjectID, &a.Role); err != nil {
			return nil, fmt.Errorf("sqlite: role assignments: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: role assignments: %w", err)
	}
	return out, nil
}

// DeleteUserTokens implements store.Identity.
func (s *Store) DeleteUserTokens(ctx context.Context, userID, projectID string) (int, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM tokens WHERE user_id = ? AND (? = '' OR project_id = ?)`,
		userID, projectID, projectID)
	var n int64
	if err == nil {
		n, err = res.RowsAffected()
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete tokens of user %s: %w", userID, err)
	}
	return int(n), nil
}

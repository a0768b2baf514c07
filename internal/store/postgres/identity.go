package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

// CreateProject implements store.Identity.
func (s *Store) CreateProject(ctx context.Context, p model.Project) error {
	if p.Created.IsZero() {
		p.Created = s.now()
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO projects (id, name, description, enabled, created) VALUES ($1, $2, $3, $4, $5)`,
		p.ID, p.Name, p.Description, p.Enabled, ts(p.Created))
	if isUnique(err) {
		err = store.ErrExists
	}
	if err != nil {
		return fmt.Errorf("postgres: create project %s: %w", p.ID, err)
	}
	return nil
}

const projectCols = `id, name, description, enabled, created`

func scanProject(row pgx.Row) (*model.Project, error) {
	var p model.Project
	var created *time.Time
	if err := row.Scan(&p.ID, &p.Name, &p.Description, &p.Enabled, &created); err != nil {
		return nil, err
	}
	p.Created = fromTS(created)
	return &p, nil
}

func (s *Store) getProject(ctx context.Context, what, where, arg string) (*model.Project, error) {
	p, err := scanProject(s.pool.QueryRow(ctx, `SELECT `+projectCols+` FROM projects WHERE `+where+` = $1`, arg))
	if err != nil {
		return nil, fmt.Errorf("postgres: get project %s %s: %w", what, arg, noRows(err))
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
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (model.Project, error) {
		p, err := scanProject(row)
		if err != nil {
			return model.Project{}, err
		}
		return *p, nil
	})
}

// ListProjects implements store.Identity; projects are ordered by name.
func (s *Store) ListProjects(ctx context.Context) ([]model.Project, error) {
	out, err := s.listProjects(ctx, `SELECT `+projectCols+` FROM projects ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list projects: %w", err)
	}
	return out, nil
}

// CreateUser implements store.Identity.
func (s *Store) CreateUser(ctx context.Context, u model.User) error {
	if u.Created.IsZero() {
		u.Created = s.now()
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO users (id, name, password_hash, enabled, created) VALUES ($1, $2, $3, $4, $5)`,
		u.ID, u.Name, u.PasswordHash, u.Enabled, ts(u.Created))
	if isUnique(err) {
		err = store.ErrExists
	}
	if err != nil {
		return fmt.Errorf("postgres: create user %s: %w", u.ID, err)
	}
	return nil
}

const userCols = `id, name, password_hash, enabled, created`

func scanUser(row pgx.Row) (*model.User, error) {
	var u model.User
	var created *time.Time
	if err := row.Scan(&u.ID, &u.Name, &u.PasswordHash, &u.Enabled, &created); err != nil {
		return nil, err
	}
	u.Created = fromTS(created)
	return &u, nil
}

func (s *Store) getUser(ctx context.Context, what, where, arg string) (*model.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE `+where+` = $1`, arg))
	if err != nil {
		return nil, fmt.Errorf("postgres: get user %s %s: %w", what, arg, noRows(err))
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
	rows, err := s.pool.Query(ctx, `SELECT `+userCols+` FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list users: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (model.User, error) {
		u, err := scanUser(row)
		if err != nil {
			return model.User{}, err
		}
		return *u, nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list users: %w", err)
	}
	return out, nil
}

// SetUserPassword implements store.Identity.
func (s *Store) SetUserPassword(ctx context.Context, id string, hash []byte) error {
	tag, err := s.pool.Exec(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2`, hash, id)
	if err == nil && tag.RowsAffected() == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("postgres: set password of user %s: %w", id, err)
	}
	return nil
}

// GrantRole implements store.Identity. ErrNotFound if the user or the
// project does not exist.
func (s *Store) GrantRole(ctx context.Context, a model.RoleAssignment) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO role_assignments (user_id, project_id, role) VALUES ($1, $2, $3)
		ON CONFLICT DO NOTHING`, a.UserID, a.ProjectID, a.Role)
	if isForeignKey(err) {
		err = store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("postgres: grant role %s to user %s on project %s: %w", a.Role, a.UserID, a.ProjectID, err)
	}
	return nil
}

// Roles implements store.Identity; roles are ordered by name.
func (s *Store) Roles(ctx context.Context, userID, projectID string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT role FROM role_assignments WHERE user_id = $1 AND project_id = $2
		ORDER BY role`, userID, projectID)
	if err != nil {
		return nil, fmt.Errorf("postgres: roles: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: roles: %w", err)
	}
	if out == nil {
		out = []string{}
	}
	return out, nil
}

// ProjectsOf implements store.Identity; projects are ordered by name.
func (s *Store) ProjectsOf(ctx context.Context, userID string) ([]model.Project, error) {
	out, err := s.listProjects(ctx, `SELECT `+projectCols+` FROM projects WHERE id IN
		(SELECT project_id FROM role_assignments WHERE user_id = $1) ORDER BY name`, userID)
	if err != nil {
		return nil, fmt.Errorf("postgres: projects of user %s: %w", userID, err)
	}
	return out, nil
}

// CreateToken implements store.Identity. ErrExists on a duplicate hash.
func (s *Store) CreateToken(ctx context.Context, t model.Token) error {
	roles := append([]string{}, t.Roles...)
	methods := append([]string{}, t.Methods...)
	_, err := s.pool.Exec(ctx, `INSERT INTO tokens (hash, user_id, project_id, roles, methods, issued_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, t.Hash, t.UserID, t.ProjectID, roles, methods,
		ts(t.IssuedAt), ts(t.ExpiresAt))
	if isUnique(err) {
		err = store.ErrExists
	}
	if err != nil {
		// Never the hash: it identifies a live token.
		return fmt.Errorf("postgres: create token for user %s: %w", t.UserID, err)
	}
	return nil
}

// GetToken implements store.Identity.
func (s *Store) GetToken(ctx context.Context, hash []byte) (*model.Token, error) {
	var (
		t                 model.Token
		issued, expiresAt *time.Time
	)
	err := s.pool.QueryRow(ctx, `SELECT hash, user_id, project_id, roles, methods, issued_at, expires_at
		FROM tokens WHERE hash = $1`, hash).Scan(&t.Hash, &t.UserID, &t.ProjectID, &t.Roles, &t.Methods, &issued, &expiresAt)
	if err != nil {
		return nil, fmt.Errorf("postgres: get token: %w", noRows(err))
	}
	t.IssuedAt = fromTS(issued)
	t.ExpiresAt = fromTS(expiresAt)
	return &t, nil
}

// DeleteToken implements store.Identity. Deleting a missing token is not an
// error.
func (s *Store) DeleteToken(ctx context.Context, hash []byte) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM tokens WHERE hash = $1`, hash); err != nil {
		return fmt.Errorf("postgres: delete token: %w", err)
	}
	return nil
}

// DeleteExpiredTokens implements store.Identity.
func (s *Store) DeleteExpiredTokens(ctx context.Context, now time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM tokens WHERE expires_at IS NULL OR expires_at < $1`, ts(now))
	if err != nil {
		return 0, fmt.Errorf("postgres: delete expired tokens: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// UpdateProject implements store.Identity.
func (s *Store) UpdateProject(ctx context.Context, p model.Project) error {
	tag, err := s.pool.Exec(ctx, `UPDATE projects SET name = $1, description = $2, enabled = $3 WHERE id = $4`,
		p.Name, p.Description, p.Enabled, p.ID)
	if isUnique(err) {
		err = store.ErrExists
	}
	if err == nil && tag.RowsAffected() == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("postgres: update project %s: %w", p.ID, err)
	}
	return nil
}

// deleteThen runs the DELETE del (ErrNotFound if it removed no row), then
// the statement then, in one transaction; each takes the leading args it
// uses ($1 or $1, $2, ...), nThen for then.
func (s *Store) deleteThen(ctx context.Context, del, then string, nThen int, args ...any) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, del, args...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		_, err = tx.Exec(ctx, then, args[:nThen]...)
		return err
	})
}

// DeleteProject implements store.Identity; role assignments go by the
// foreign key's ON DELETE CASCADE.
func (s *Store) DeleteProject(ctx context.Context, id string) error {
	if err := s.deleteThen(ctx, `DELETE FROM projects WHERE id = $1`, `DELETE FROM tokens WHERE project_id = $1`, 1, id); err != nil {
		return fmt.Errorf("postgres: delete project %s: %w", id, err)
	}
	return nil
}

// DeleteProjectIfUnused implements store.Identity. It takes the project's
// quota lock first (lockProject), as the quota-checked writes do, then the
// project's row.
func (s *Store) DeleteProjectIfUnused(ctx context.Context, id string) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := lockProject(ctx, tx, id); err != nil {
			return err
		}
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM projects WHERE id = $1 FOR UPDATE`, id).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		var inst, bak, conf int64
		if err := tx.QueryRow(ctx, `SELECT (SELECT COUNT(*) FROM instances WHERE tenant_id = $1),
			(SELECT COUNT(*) FROM backups WHERE tenant_id = $1),
			(SELECT COUNT(*) FROM configurations WHERE tenant_id = $1)`, id).Scan(&inst, &bak, &conf); err != nil {
			return err
		}
		if r := (model.ProjectResources{Instances: int(inst), Backups: int(bak), Configurations: int(conf)}); r.Any() {
			return &store.ProjectInUseError{ProjectID: id, Resources: r}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM projects WHERE id = $1`, id); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM tokens WHERE project_id = $1`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: delete project %s: %w", id, err)
	}
	return nil
}

// UpdateUser implements store.Identity.
func (s *Store) UpdateUser(ctx context.Context, u model.User) error {
	tag, err := s.pool.Exec(ctx, `UPDATE users SET name = $1, enabled = $2 WHERE id = $3`, u.Name, u.Enabled, u.ID)
	if isUnique(err) {
		err = store.ErrExists
	}
	if err == nil && tag.RowsAffected() == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("postgres: update user %s: %w", u.ID, err)
	}
	return nil
}

// DeleteUser implements store.Identity; role assignments go by the
// foreign key's ON DELETE CASCADE.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	if err := s.deleteThen(ctx, `DELETE FROM users WHERE id = $1`, `DELETE FROM tokens WHERE user_id = $1`, 1, id); err != nil {
		return fmt.Errorf("postgres: delete user %s: %w", id, err)
	}
	return nil
}

// RevokeRole implements store.Identity.
func (s *Store) RevokeRole(ctx context.Context, a model.RoleAssignment) error {
	err := s.deleteThen(ctx, `DELETE FROM role_assignments WHERE user_id = $1 AND project_id = $2 AND role = $3`,
		`DELETE FROM tokens WHERE user_id = $1 AND project_id = $2`, 2, a.UserID, a.ProjectID, a.Role)
	if err != nil {
		return fmt.Errorf("postgres: revoke role %s of user %s on project %s: %w", a.Role, a.UserID, a.ProjectID, err)
	}
	return nil
}

// RoleAssignments implements store.Identity.
func (s *Store) RoleAssignments(ctx context.Context, f model.RoleAssignment) ([]model.RoleAssignment, error) {
	rows, err := s.pool.Query(ctx, `SELECT user_id, project_id, role FROM role_assignments
		WHERE ($1 = '' OR user_id = $1) AND ($2 = '' OR project_id = $2) AND ($3 = '' OR role = $3)
		ORDER BY user_id, project_id, role`, f.UserID, f.ProjectID, f.Role)
	if err != nil {
		return nil, fmt.Errorf("postgres: role assignments: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (model.RoleAssignment, error) {
		var a model.RoleAssignment
		err := row.Scan(&a.UserID, &a.ProjectID, &a.Role)
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: role assignments: %w", err)
	}
	if out == nil {
		out = []model.RoleAssignment{}
	}
	return out, nil
}

// DeleteUserTokens implements store.Identity.
func (s *Store) DeleteUserTokens(ctx context.Context, userID, projectID string) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM tokens WHERE user_id = $1 AND ($2 = '' OR project_id = $2)`, userID, projectID)
	if err != nil {
		return 0, fmt.Errorf("postgres: delete tokens of user %s: %w", userID, err)
	}
	return int(tag.RowsAffected()), nil
}

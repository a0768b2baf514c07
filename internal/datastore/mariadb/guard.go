package mariadb

import (
	"context"
	"fmt"
	"strings"

	"github.com/hoard-db/hoard/internal/datastore"
)

var _ datastore.AdminChecker = (*Engine)(nil)

// CheckAdmin implements datastore.AdminChecker: c must log in and hold ALL
// PRIVILEGES ON *.* WITH GRANT OPTION. A tenant's root can take either
// away; the init-file Render writes gives them back at the next start.
func (e *Engine) CheckAdmin(ctx context.Context, c datastore.Conn) error {
	s, err := open(ctx, c, c.User, c.Password, pingTimeouts)
	if err != nil {
		return err
	}
	defer s.Close()
	rows, err := s.conn.QueryContext(ctx, "SHOW GRANTS FOR CURRENT_USER()")
	if err != nil {
		if refused(err) {
			return fmt.Errorf("mariadb: check admin: %w: %w", datastore.ErrAdminLost, err)
		}
		return fmt.Errorf("mariadb: check admin: %w", err)
	}
	defer rows.Close()
	all := false
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			return fmt.Errorf("mariadb: check admin: %w", err)
		}
		if strings.HasPrefix(g, "GRANT ALL PRIVILEGES ON *.* TO ") && strings.Contains(g, " WITH GRANT OPTION") {
			all = true
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("mariadb: check admin: %w", err)
	}
	if !all {
		return fmt.Errorf("mariadb: check admin: %w: it no longer holds all privileges", datastore.ErrAdminLost)
	}
	return nil
}

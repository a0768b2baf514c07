package mariadb

import (
	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
)

var _ datastore.Validator = (*Engine)(nil)

// ValidateDatabase checks a database definition before it is accepted: the
// name rules and the shape of the character set and collation names (whether
// the server knows them is checked when the database is created).
func (e *Engine) ValidateDatabase(db datastore.Database) error {
	if err := ValidateDatabaseName(db.Name); err != nil {
		return err
	}
	if db.CharacterSet != "" && !charsetNameRE.MatchString(db.CharacterSet) {
		return fault.Errorf(fault.Invalid, "database.create", "'%s' not a valid character set.", printable(db.CharacterSet))
	}
	if db.Collate != "" && !charsetNameRE.MatchString(db.Collate) {
		return fault.Errorf(fault.Invalid, "database.create", "'%s' not a valid collation.", printable(db.Collate))
	}
	return nil
}

// ValidateUser checks a user definition (name, host, password, database
// names) before it is accepted.
func (e *Engine) ValidateUser(u datastore.User) error { return validateUser(u) }

package api

import (
	"encoding/json"
	"slices"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
)

// Decoders of the database, user and root bodies (API reference §10–§12).
// They check shapes, and that names and hosts hold no control or
// bidirectional formatting character (safeText); otherwise names, hosts and
// passwords are checked by the engine's rules in the service. No error message ever contains a
// password: problems name the field, not its value.

// maxListItems caps the databases or users of one request.
const maxListItems = 100

// topList returns the list under key of a body such as {"databases": [...]},
// which must be present and non-empty.
func topList(body []byte, op, key string) (json.RawMessage, error) {
	top, err := decodeObject(body)
	if err != nil {
		return nil, err
	}
	raw, ok := top[key]
	if !ok || isNull(raw) {
		return nil, fault.Errorf(fault.Invalid, op, "Validation error: '%s' is a required property", key)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fault.Errorf(fault.Invalid, op, "Validation error: '%s' must be a list", key)
	}
	switch {
	case len(items) == 0:
		return nil, fault.Errorf(fault.Invalid, op, "Validation error: '%s' must not be empty", key)
	case len(items) > maxListItems:
		return nil, fault.Errorf(fault.Invalid, op, "Validation error: '%s' may hold at most %d items", key, maxListItems)
	}
	return raw, nil
}

// decodeDatabaseCreate decodes POST .../databases:
// {"databases": [{"name", "character_set"?, "collate"?}, ...]}.
func decodeDatabaseCreate(body []byte) ([]datastore.Database, error) {
	const op = "api.database.create"
	raw, err := topList(body, op, "databases")
	if err != nil {
		return nil, err
	}
	var p problems
	dbs := decodeDatabases(&p, "databases", raw)
	if err := p.err(op); err != nil {
		return nil, err
	}
	return dbs, nil
}

// decodeUserCreate decodes POST .../users:
// {"users": [{"name", "password", "host"?, "databases"?: [{"name"}]}, ...]}.
func decodeUserCreate(body []byte) ([]datastore.User, error) {
	const op = "api.user.create"
	raw, err := topList(body, op, "users")
	if err != nil {
		return nil, err
	}
	var p problems
	users := decodeUsers(&p, "users", raw)
	if err := p.err(op); err != nil {
		return nil, err
	}
	return users, nil
}

// decodePasswords decodes PUT .../users:
// {"users": [{"name", "password", "host"?}, ...]}; databases are ignored.
func decodePasswords(body []byte) ([]datastore.User, error) {
	const op = "api.user.update_passwords"
	users, err := decodeUserCreate(body)
	if err != nil {
		if fault.Is(err, fault.Invalid) {
			return nil, fault.Wrap(fault.Invalid, op, "User password update error: "+fault.Message(err), err)
		}
		return nil, err
	}
	for i := range users {
		users[i].Databases = nil
	}
	return users, nil
}

// userAttributes are the keys of a PUT .../users/{name} body.
var userAttributes = []string{"name", "host", "password"}

// decodeUserUpdate decodes PUT .../users/{name}:
// {"user": {"name"?, "host"?, "password"?}} with at least one key.
func decodeUserUpdate(body []byte) (datastore.UserChange, error) {
	const op = "api.user.update"
	var ch datastore.UserChange
	top, err := decodeObject(body)
	if err != nil {
		return ch, err
	}
	raw, ok := top["user"]
	if !ok || isNull(raw) {
		return ch, fault.New(fault.Invalid, op, "Validation error: 'user' is a required property")
	}
	var p problems
	m, ok := objectField(&p, "user", raw)
	if !ok {
		return ch, p.err(op)
	}
	for k := range m {
		if !slices.Contains(userAttributes, k) {
			p.add("unknown attribute user '%s'", truncate(k, 64))
		}
	}
	slices.Sort(p)
	for _, k := range userAttributes {
		raw, ok := m[k]
		if !ok || isNull(raw) {
			continue
		}
		s, ok := stringField(&p, "user '"+k+"'", raw)
		if ok && s == "" {
			p.add("user '%s' must not be empty", k)
		}
		if k != "password" {
			safeText(&p, "user '"+k+"'", s)
		}
		switch k {
		case "name":
			ch.Name = s
		case "host":
			ch.Host = s
		case "password":
			ch.Password = datastore.Secret(s)
		}
	}
	if err := p.err(op); err != nil {
		return datastore.UserChange{}, err
	}
	if ch == (datastore.UserChange{}) {
		return ch, fault.New(fault.Invalid, op, "Validation error: 'user' must hold at least one of 'name', 'host', 'password'")
	}
	return ch, nil
}

// decodeGrant decodes PUT .../users/{name}/databases:
// {"databases": [{"name"}, ...]}.
func decodeGrant(body []byte) ([]string, error) {
	dbs, err := decodeDatabaseCreate(body)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(dbs))
	for i, d := range dbs {
		names[i] = d.Name
	}
	return names, nil
}

// decodeRootEnable decodes POST .../root: no body, {} or Trove HEAD's
// {"password": "..."}. Other keys are ignored.
func decodeRootEnable(body []byte) (datastore.Secret, error) {
	const op = "api.root.enable"
	m, err := decodeObject(body)
	if err != nil {
		return "", err
	}
	raw, ok := m["password"]
	if !ok || isNull(raw) {
		return "", nil
	}
	var p problems
	s, ok := stringField(&p, "'password'", raw)
	if ok && s == "" {
		p.add("'password' must not be empty")
	}
	if err := p.err(op); err != nil {
		return "", err
	}
	return datastore.Secret(s), nil
}

// unescapeLenient percent-decodes s once more, as Trove does after routing
// (reference §12.2): valid %XX sequences are decoded, anything else (a lone
// '%', as in "user@%") is kept as it is.
func unescapeLenient(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			if b == nil {
				b = append(make([]byte, 0, len(s)), s[:i]...)
			}
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		if b != nil {
			b = append(b, s[i])
		}
	}
	if b == nil {
		return s
	}
	return string(b)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

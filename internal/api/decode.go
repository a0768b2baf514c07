package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/safetext"
	"github.com/hoard-db/hoard/internal/service"
)

const maxNameLen = 255

// localities are the accepted values of a create request's "locality".
var localities = []string{"affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity"}

// readBody reads the (size-limited) request body.
func readBody(r *http.Request, max int64) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, bodyTooLarge(max)
		}
		return nil, fmt.Errorf("api: read request body: %w", err)
	}
	return b, nil
}

func malformed(err error) error {
	return fault.Wrap(fault.Invalid, "api.decode", "Malformed request body", err)
}

// decodeObject decodes body as a JSON object into a map of raw values. An
// empty body is an empty object (Trove treats a missing body as {}).
func decodeObject(body []byte) (map[string]json.RawMessage, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return map[string]json.RawMessage{}, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, malformed(err)
	}
	if m == nil { // the body was null
		return nil, fault.New(fault.Invalid, "api.decode", "Malformed request body: expected a JSON object")
	}
	return m, nil
}

// isNull reports whether raw is absent or JSON null.
func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

// problems collects validation failures so that one 400 reports them all.
type problems []string

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

func (p problems) err(op string) error {
	if len(p) == 0 {
		return nil
	}
	return fault.New(fault.Invalid, op, "Validation error: "+strings.Join(p, "; "))
}

// objectField decodes raw as a JSON object; ok is false (and a problem
// recorded) when it is not one.
func objectField(p *problems, path string, raw json.RawMessage) (map[string]json.RawMessage, bool) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		p.add("%s must be an object", path)
		return nil, false
	}
	return m, true
}

// stringField decodes raw as a JSON string.
func stringField(p *problems, path string, raw json.RawMessage) (string, bool) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		p.add("%s must be a string", path)
		return "", false
	}
	return s, true
}

// intOrDigits decodes raw as a non-negative JSON integer or a string of
// digits.
func intOrDigits(raw json.RawMessage) (int, bool) {
	raw = bytes.TrimSpace(raw)
	var s string
	if len(raw) > 0 && raw[0] == '"' {
		if json.Unmarshal(raw, &s) != nil {
			return 0, false
		}
	} else {
		var n json.Number
		if json.Unmarshal(raw, &n) != nil {
			return 0, false
		}
		s = string(n)
	}
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// validName checks an instance, backup or configuration group name: 1–255
// characters with at least one ASCII letter or digit, and no control or
// bidirectional formatting character (safeText).
func validName(p *problems, path, name string) {
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		p.add("%s must not be empty", path)
	case n > maxNameLen:
		p.add("%s must be at most %d characters", path, maxNameLen)
	case !strings.ContainsFunc(name, isASCIIAlnum):
		p.add("%s must contain at least one letter or digit", path)
	default:
		safeText(p, path, name)
	}
}

// safeText refuses a control character (NUL, ESC, DEL, C1 ...) or a
// bidirectional formatting character (U+202E ...) in text that the API
// stores and shows again: every name and description of every decoder goes
// through it (or through validName), so that no client can plant terminal
// escapes or reordered text for the next reader ([safetext.Check] is the one
// definition). It reports whether s is acceptable.
func safeText(p *problems, path, s string) bool {
	var ue *safetext.UnsafeError
	if err := safetext.Check(s); errors.As(err, &ue) {
		what := "control or bidirectional formatting characters"
		if ue.Rune == utf8.RuneError {
			what = "invalid UTF-8"
		}
		p.add("%s must not contain %s (%U at character %d)", path, what,
			ue.Rune, utf8.RuneCountInString(s[:ue.Offset])+1)
		return false
	}
	return true
}

func isASCIIAlnum(r rune) bool {
	return r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
}

// lastSegment reduces a flavor href to its last path segment.
func lastSegment(s string) string {
	s = strings.TrimRight(s, "/")
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// decodeCreate decodes and shape-checks an instance create body. Errors are
// of kind fault.Invalid (all problems in one message) or NotImplemented.
// Unknown keys are ignored: clients send extras.
func decodeCreate(body []byte) (service.CreateInstanceRequest, error) {
	const op = "api.instance.create"
	var req service.CreateInstanceRequest
	top, err := decodeObject(body)
	if err != nil {
		return req, err
	}
	raw, ok := top["instance"]
	if !ok || isNull(raw) {
		return req, fault.New(fault.Invalid, op, "Validation error: 'instance' is a required property")
	}
	var p problems
	inst, ok := objectField(&p, "instance", raw)
	if !ok {
		return req, p.err(op)
	}

	if raw, ok := inst["name"]; !ok || isNull(raw) {
		p.add("instance 'name' is a required property")
	} else if name, ok := stringField(&p, "instance 'name'", raw); ok {
		validName(&p, "instance 'name'", name)
		req.Name = name
	}

	// A replica (Trove's form) may leave out its flavor and volume: they
	// are its source's. "slave_of" is Trove's older name of "replica_of".
	for _, k := range []string{"replica_of", "slave_of"} {
		if raw, ok := inst[k]; ok && !isNull(raw) {
			if id, ok := stringField(&p, "instance '"+k+"'", raw); ok {
				if id == "" || len(id) > 64 || strings.ContainsFunc(id, func(r rune) bool { return !isASCIIAlnum(r) && r != '-' }) {
					p.add("instance '%s' must be an instance id", k)
				} else if req.ReplicaOf != "" && req.ReplicaOf != id {
					p.add("instance 'replica_of' and 'slave_of' name different instances")
				} else {
					req.ReplicaOf = id
				}
			}
		}
	}
	if raw, ok := inst["replica_count"]; ok && !isNull(raw) {
		if n, ok := intOrDigits(raw); !ok || n < 1 {
			p.add("instance 'replica_count' must be an integer of at least 1")
		} else if req.ReplicaOf == "" {
			p.add("instance 'replica_count' is only allowed with 'replica_of'")
		} else {
			req.ReplicaCount = n
		}
	}
	replica := req.ReplicaOf != ""

	if raw, ok := inst["flavorRef"]; !ok || isNull(raw) {
		if !replica {
			p.add("instance 'flavorRef' is a required property")
		}
	} else {
		req.FlavorRef = decodeFlavorRef(&p, raw)
	}

	if raw, ok := inst["volume"]; !ok || isNull(raw) {
		if !replica {
			p.add("instance 'volume' is a required property (Volume size was not specified.)")
		}
	} else if vol, ok := objectField(&p, "instance 'volume'", raw); ok {
		if raw, ok := vol["size"]; !ok || isNull(raw) {
			p.add("instance 'volume' 'size' is a required property")
		} else if n, ok := intOrDigits(raw); !ok || n < 1 {
			p.add("instance 'volume' 'size' must be an integer of at least 1")
		} else {
			req.VolumeSize = n
		}
		if raw, ok := vol["type"]; ok && !isNull(raw) {
			stringField(&p, "instance 'volume' 'type'", raw) // accepted and ignored
		}
	}

	if raw, ok := inst["datastore"]; ok && !isNull(raw) {
		if ds, ok := objectField(&p, "instance 'datastore'", raw); ok {
			if raw, ok := ds["type"]; ok && !isNull(raw) {
				req.DatastoreType, _ = stringField(&p, "instance 'datastore' 'type'", raw)
			}
			if raw, ok := ds["version"]; ok && !isNull(raw) {
				req.DatastoreVersion, _ = stringField(&p, "instance 'datastore' 'version'", raw)
			}
		}
	}

	if raw, ok := inst["databases"]; ok && !isNull(raw) {
		req.Databases = decodeDatabases(&p, "instance 'databases'", raw)
	}
	if raw, ok := inst["users"]; ok && !isNull(raw) {
		req.Users = decodeUsers(&p, "instance 'users'", raw)
	}

	if raw, ok := inst["locality"]; ok && !isNull(raw) {
		if loc, ok := stringField(&p, "instance 'locality'", raw); ok && !slices.Contains(localities, loc) {
			p.add("Invalid locality '%s'. Must be one of [%s]", loc, strings.Join(localities, ", "))
		}
	}
	for _, k := range []string{"availability_zone", "region_name"} {
		if raw, ok := inst[k]; ok && !isNull(raw) {
			stringField(&p, "instance '"+k+"'", raw)
		}
	}
	if raw, ok := inst["restorePoint"]; ok && !isNull(raw) {
		req.RestoreBackupID = decodeRestorePoint(&p, raw) // decode_backups.go
	}
	// nics and modules are refused below unless empty, and access unless
	// hoard can do what it asks: nothing a client asks for there is
	// silently dropped (an instance believed closed to a network would be
	// open to it; one believed on a network would not be).
	if raw, ok := inst["configuration"]; ok {
		req.Configuration = configurationRef(&p, raw)
	}

	if err := p.err(op); err != nil {
		return service.CreateInstanceRequest{}, err
	}
	if raw, ok := inst["access"]; ok && !isNull(raw) {
		cidrs, err := decodeAccess(op, raw)
		if err != nil {
			return service.CreateInstanceRequest{}, err
		}
		req.Access, req.AllowedCIDRs = true, cidrs
	}
	if raw, ok := inst["modules"]; ok && !isNull(raw) {
		if err := refuseModules(op, raw); err != nil {
			return service.CreateInstanceRequest{}, err
		}
	}
	if raw, ok := inst["nics"]; ok && !isNull(raw) {
		if err := refuseNICs(op, raw); err != nil {
			return service.CreateInstanceRequest{}, err
		}
	}
	return req, nil
}

// refuseNICs refuses a non-empty 'nics' list: hoard gives every instance
// one address of its own pool and has no networks, ports or fixed
// addresses to choose, so no network interface asked for can be met (400,
// as Trove answers for a network it cannot find). An empty list, which
// asks for nothing, is accepted.
func refuseNICs(op string, raw json.RawMessage) error {
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return fault.New(fault.Invalid, op, "instance 'nics' must be a list of objects")
	}
	for _, item := range list {
		var nic map[string]json.RawMessage
		if err := json.Unmarshal(item, &nic); err != nil || nic == nil {
			return fault.New(fault.Invalid, op, "instance 'nics' must be a list of objects")
		}
		for _, k := range slices.Sorted(maps.Keys(nic)) {
			if !isNull(nic[k]) {
				return fault.Errorf(fault.Invalid, op,
					"Network interfaces cannot be chosen (instance 'nics' '%s' given): hoard gives every instance one address of its own pool; leave 'nics' out.",
					truncate(safetext.Escape(k), 64))
			}
		}
	}
	return nil
}

// decodeAccess decodes an instance's 'access' (create and update):
// {"is_public": bool, "allowed_cidrs": [...]}. Each entry is an IPv4 or
// IPv6 network in CIDR notation or a bare address (a /32 or /128); it
// returns them canonical (host bits cleared), without repeats, in the
// order given: none (nil) means every network. A malformed entry is 400
// naming it. is_public true (a public address) is refused with 501:
// instances have a private address only. {"is_public": false}, which the
// OpenStack CLI always sends, asks for what every instance is.
func decodeAccess(op string, raw json.RawMessage) ([]string, error) {
	const path = "instance 'access'"
	const shape = path + " must be an object with 'is_public' (a boolean) and 'allowed_cidrs' (a list of strings)"
	var p problems
	m, ok := objectField(&p, path, raw)
	if !ok {
		return nil, fault.New(fault.Invalid, op, "Validation error: "+shape)
	}
	public := false
	if raw, ok := m["is_public"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &public); err != nil {
			p.add("%s 'is_public' must be a boolean", path)
		}
	}
	var cidrs []string
	if raw, ok := m["allowed_cidrs"]; ok && !isNull(raw) {
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			p.add("%s 'allowed_cidrs' must be a list of strings", path)
		} else if len(items) > model.MaxAllowedCIDRs {
			p.add("%s 'allowed_cidrs' may list at most %d networks (got %d)", path, model.MaxAllowedCIDRs, len(items))
		} else {
			for i, item := range items {
				at := fmt.Sprintf("%s 'allowed_cidrs'[%d]", path, i)
				s, ok := stringField(&p, at, item)
				if !ok {
					continue
				}
				pfx, err := model.ParseAllowedCIDR(strings.TrimSpace(s))
				if err != nil {
					p.add("%s '%s' is not an IPv4 or IPv6 network in CIDR notation (such as 10.0.0.0/8) or an address",
						at, truncate(safetext.Escape(s), 64))
					continue
				}
				if c := pfx.String(); !slices.Contains(cidrs, c) {
					cidrs = append(cidrs, c)
				}
			}
		}
	}
	if err := p.err(op); err != nil {
		return nil, err
	}
	if public {
		return nil, fault.New(fault.NotImplemented, op,
			"Public instances are not implemented (instance 'access' 'is_public' true given): instances have a private address only.")
	}
	return cidrs, nil
}

// refuseModules refuses a non-empty 'modules' list: hoard has no modules,
// so every id is unknown. That is 400, as Trove answers (its
// ModuleNotFound is missing from its exact-class fault map, reference
// §2.3), not 404: the URL was found, the body names what cannot be.
func refuseModules(op string, raw json.RawMessage) error {
	var mods []struct {
		ID *string `json:"id"`
	}
	if err := json.Unmarshal(raw, &mods); err != nil {
		return fault.New(fault.Invalid, op, "instance 'modules' must be a list of objects with an 'id'")
	}
	if len(mods) == 0 {
		return nil
	}
	if mods[0].ID == nil || *mods[0].ID == "" {
		return fault.New(fault.Invalid, op, "instance 'modules' must be a list of objects with an 'id'")
	}
	return fault.Errorf(fault.Invalid, op, "Module with ID %s could not be found: hoard has no modules.", truncate(safetext.Escape(*mods[0].ID), 64))
}

// decodeFlavorRef accepts an integer, a digit string or an href.
func decodeFlavorRef(p *problems, raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			p.add("instance 'flavorRef' must be a string or an integer")
			return ""
		}
		ref := lastSegment(strings.TrimSpace(s))
		if ref == "" {
			p.add("instance 'flavorRef' must not be empty")
		}
		return ref
	}
	n, ok := intOrDigits(raw)
	if !ok {
		p.add("instance 'flavorRef' must be a flavor id or href")
		return ""
	}
	return strconv.Itoa(n)
}

// decodeDatabases decodes a list of {"name", "character_set"?, "collate"?}
// found at path.
func decodeDatabases(p *problems, path string, raw json.RawMessage) []datastore.Database {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		p.add("%s must be a list", path)
		return nil
	}
	listPath := path
	dbs := make([]datastore.Database, 0, len(items))
	for i, item := range items {
		path := fmt.Sprintf("%s[%d]", listPath, i)
		m, ok := objectField(p, path, item)
		if !ok {
			continue
		}
		var db datastore.Database
		db.Name = requiredString(p, path, "name", m)
		db.CharacterSet = optionalString(p, path, "character_set", m)
		db.Collate = optionalString(p, path, "collate", m)
		safeText(p, path+" 'name'", db.Name)
		safeText(p, path+" 'character_set'", db.CharacterSet)
		safeText(p, path+" 'collate'", db.Collate)
		dbs = append(dbs, db)
	}
	return dbs
}

// decodeUsers decodes a list of {"name", "password", "host"?,
// "databases"?} found at path.
func decodeUsers(p *problems, path string, raw json.RawMessage) []datastore.User {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		p.add("%s must be a list", path)
		return nil
	}
	listPath := path
	users := make([]datastore.User, 0, len(items))
	for i, item := range items {
		path := fmt.Sprintf("%s[%d]", listPath, i)
		m, ok := objectField(p, path, item)
		if !ok {
			continue
		}
		u := datastore.User{
			Name:     requiredString(p, path, "name", m),
			Password: datastore.Secret(requiredString(p, path, "password", m)),
			Host:     optionalString(p, path, "host", m),
		}
		safeText(p, path+" 'name'", u.Name)
		safeText(p, path+" 'host'", u.Host)
		if u.Host == "" {
			u.Host = "%"
		}
		if raw, ok := m["databases"]; ok && !isNull(raw) {
			for _, db := range decodeDatabases(p, path+" 'databases'", raw) {
				u.Databases = append(u.Databases, db.Name)
			}
		}
		users = append(users, u)
	}
	return users
}

// requiredString returns m[key], which must be a non-empty string.
func requiredString(p *problems, path, key string, m map[string]json.RawMessage) string {
	raw, ok := m[key]
	if !ok || isNull(raw) {
		p.add("%s '%s' is a required property", path, key)
		return ""
	}
	s, ok := stringField(p, fmt.Sprintf("%s '%s'", path, key), raw)
	if ok && s == "" {
		p.add("%s '%s' must not be empty", path, key)
	}
	return s
}

// optionalString returns m[key] if it is a string, "" if absent or null.
func optionalString(p *problems, path, key string, m map[string]json.RawMessage) string {
	raw, ok := m[key]
	if !ok || isNull(raw) {
		return ""
	}
	s, _ := stringField(p, fmt.Sprintf("%s '%s'", path, key), raw)
	return s
}

// Action names.
const (
	actionRestart = "restart"
	actionResize  = "resize"
	actionPromote = "promote_to_replica_source"
	actionEject   = "eject_replica_source"
)

// notImplementedActions are Trove actions hoard does not offer yet.
var notImplementedActions = []string{"resize", "reset_status"}

// decodeAction decodes an instance action body, which must hold exactly one
// known action. It returns the action name; for restart the body is fully
// checked, for the not implemented actions only the key matters. Errors are
// of kind fault.Invalid.
func decodeAction(body []byte) (string, error) {
	const op = "api.instance.action"
	m, err := decodeObject(body)
	if err != nil {
		return "", err
	}
	switch len(m) {
	case 0:
		return "", fault.New(fault.Invalid, op, "No action given: the body must hold exactly one action, e.g. {\"restart\": {}}.")
	case 1:
	default:
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return "", fault.Errorf(fault.Invalid, op, "Only one action may be given per request (got %s).", strings.Join(keys, ", "))
	}
	for name, raw := range m {
		switch {
		case name == actionRestart || name == actionPromote || name == actionEject:
			var args map[string]json.RawMessage
			if err := json.Unmarshal(raw, &args); err != nil || args == nil {
				return "", fault.Errorf(fault.Invalid, op, "Validation error: '%s' must be an object.", name)
			}
			if len(args) != 0 {
				return "", fault.Errorf(fault.Invalid, op, "Validation error: '%s' takes no arguments.", name)
			}
			return name, nil
		case slices.Contains(notImplementedActions, name):
			return name, nil
		default:
			return "", fault.Errorf(fault.Invalid, op, "Unknown action '%s'.", truncate(name, 64))
		}
	}
	panic("unreachable")
}

// truncate shortens client text echoed in messages.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "..."
}

// instanceUpdate is a decoded PUT/PATCH body.
type instanceUpdate struct {
	Name   string // new name; "" keeps the name
	Rename bool
	// Configuration is the group to attach; with Detach false and
	// Configuration "" the group is left alone.
	Configuration string
	// Detach removes the group: "configuration" null or "", or an empty
	// {"instance": {}} (gophercloud's DetachConfigurationGroup).
	Detach bool
	// DetachReplica makes a replica standalone: "replica_of" (or Trove's
	// older "slave_of") null, Trove's detach-replica.
	DetachReplica bool
	// Access is true when "access" was given: AllowedCIDRs (none meaning
	// every network) then replace the instance's networks.
	Access       bool
	AllowedCIDRs []string
}

// notImplementedUpdateKeys are update attributes of features hoard does not
// offer yet.
var notImplementedUpdateKeys = []string{"datastore_version"}

// decodeUpdate decodes a PUT or PATCH instance body. {"instance": {}} is a
// valid no-op (gophercloud's DetachConfigurationGroup).
func decodeUpdate(body []byte) (instanceUpdate, error) {
	const op = "api.instance.update"
	var u instanceUpdate
	top, err := decodeObject(body)
	if err != nil {
		return u, err
	}
	raw, ok := top["instance"]
	if !ok || isNull(raw) {
		return u, fault.New(fault.Invalid, op, "Validation error: 'instance' is a required property")
	}
	var p problems
	inst, ok := objectField(&p, "instance", raw)
	if !ok {
		return u, p.err(op)
	}
	var notImpl []string
	for k, raw := range inst {
		switch {
		case k == "name":
			if name, ok := stringField(&p, "instance 'name'", raw); ok {
				validName(&p, "instance 'name'", name)
				u.Name, u.Rename = name, true
			}
		case k == "configuration":
			u.Configuration = configurationRef(&p, raw)
			u.Detach = u.Configuration == ""
		case k == "replica_of" || k == "slave_of":
			if !isNull(raw) {
				p.add("instance '%s' can only be null (detach the replica from its source)", k)
			}
			u.DetachReplica = true
		case k == "rm_master_replica_config":
			// Some troveclient releases send it with a detach: hoard always
			// removes a detached replica's configuration of its source.
			var b bool
			if err := json.Unmarshal(raw, &b); err != nil {
				p.add("instance 'rm_master_replica_config' must be a boolean")
			}
		case k == "access":
			// Decoded below, once the other keys are known good.
		case slices.Contains(notImplementedUpdateKeys, k):
			notImpl = append(notImpl, k)
		default:
			p.add("unknown attribute instance '%s'", truncate(k, 64))
		}
	}
	slices.Sort(p)
	if err := p.err(op); err != nil {
		return instanceUpdate{}, err
	}
	if raw, ok := inst["access"]; ok {
		// Trove's rule (reference §8.5): besides 'name', one attribute.
		// hoard keeps it for 'access', which applies to the running
		// instance, so that a refused change never leaves another applied.
		for k := range inst {
			if k != "name" && k != "access" {
				return instanceUpdate{}, fault.New(fault.Invalid, op, "Only one attribute (except 'name') is allowed to update.")
			}
		}
		cidrs, err := decodeAccess(op, raw) // null too is refused: say [] for every network
		if err != nil {
			return instanceUpdate{}, err
		}
		u.Access, u.AllowedCIDRs = true, cidrs
	}
	if len(notImpl) > 0 {
		slices.Sort(notImpl)
		return instanceUpdate{}, fault.Errorf(fault.NotImplemented, op,
			"Updating instance '%s' is not implemented.", notImpl[0])
	}
	if len(inst) == 0 {
		u.Detach = true
	}
	return u, nil
}

package api

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/service"
)

// maxLogNameLen bounds a log's name (Trove's non_empty_string).
const maxLogNameLen = 255

// decodeLogAction decodes the body of POST /instances/{id}/log (Trove's
// apischema.guest_log): {"name": "general"} and, each optional, "enable",
// "disable", "publish" and "discard" as the integers 0 or 1 (booleans are
// taken too). Enable and disable together are refused, as Trove. Unknown
// keys are ignored: clients send extras.
func decodeLogAction(body []byte) (service.LogAction, error) {
	const op = "api.instance.log.action"
	var a service.LogAction
	top, err := decodeObject(body)
	if err != nil {
		return a, err
	}
	var p problems
	if raw, ok := top["name"]; !ok || isNull(raw) {
		p.add("'name' is a required property")
	} else if name, ok := stringField(&p, "'name'", raw); ok {
		switch {
		case utf8.RuneCountInString(name) > maxLogNameLen:
			p.add("'name' must be at most %d characters", maxLogNameLen)
		case !strings.ContainsFunc(name, isASCIIAlnum):
			p.add("'name' must contain at least one letter or digit")
		case safeText(&p, "'name'", name):
			a.Name = name
		}
	}
	for _, f := range []struct {
		key string
		dst *bool
	}{{"enable", &a.Enable}, {"disable", &a.Disable}, {"publish", &a.Publish}, {"discard", &a.Discard}} {
		raw, ok := top[f.key]
		if !ok || isNull(raw) {
			continue
		}
		v, ok := flag(raw)
		if !ok {
			p.add("'%s' must be 0 or 1", f.key)
			continue
		}
		*f.dst = v
	}
	if err := p.err(op); err != nil {
		return service.LogAction{}, err
	}
	if a.Enable && a.Disable {
		return service.LogAction{}, fault.New(fault.Invalid, op, "Cannot enable and disable log.")
	}
	return a, nil
}

// flag decodes raw as the integer 0 or 1 (Trove's boolean_string) or a
// JSON boolean.
func flag(raw json.RawMessage) (bool, bool) {
	switch string(bytes.TrimSpace(raw)) {
	case "0", "false":
		return false, true
	case "1", "true":
		return true, true
	}
	return false, false
}

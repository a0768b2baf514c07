package api

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/service"
)

// decodeValues decodes a configuration "values" object keeping numbers as
// json.Number, so that integers and floats keep their exact text and the
// service can tell 120 from "120".
func decodeValues(p *problems, path string, raw json.RawMessage) map[string]any {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		p.add("%s must be an object", path)
		return nil
	}
	for k, v := range m {
		switch v.(type) {
		case string, bool, json.Number:
		default:
			p.add("%s '%s' must be a string, a number or a boolean", path, truncate(k, 64))
		}
	}
	return m
}

// groupText decodes a configuration name or description.
func groupText(p *problems, path string, raw json.RawMessage, required bool) *string {
	s, ok := stringField(p, path, raw)
	if !ok {
		return nil
	}
	if required {
		validName(p, path, s)
	} else if len([]rune(s)) > maxNameLen {
		p.add("%s must be at most %d characters", path, maxNameLen)
	} else {
		safeText(p, path, s)
	}
	return &s
}

// decodeConfigurationCreate decodes a POST /configurations body (reference
// §14.2): name and values are required.
func decodeConfigurationCreate(body []byte) (service.ConfigurationRequest, error) {
	const op = "api.configuration.create"
	var req service.ConfigurationRequest
	cfg, p, err := configurationObject(op, body)
	if err != nil {
		return req, err
	}
	if raw, ok := cfg["name"]; !ok || isNull(raw) {
		p.add("configuration 'name' is a required property")
	} else {
		req.Name = groupText(&p, "configuration 'name'", raw, true)
	}
	if raw, ok := cfg["description"]; ok && !isNull(raw) {
		req.Description = groupText(&p, "configuration 'description'", raw, false)
	}
	if raw, ok := cfg["values"]; !ok || isNull(raw) {
		p.add("configuration 'values' is a required property")
	} else {
		req.Values = decodeValues(&p, "configuration 'values'", raw)
	}
	if raw, ok := cfg["datastore"]; ok && !isNull(raw) {
		if ds, ok := objectField(&p, "configuration 'datastore'", raw); ok {
			if raw, ok := ds["type"]; ok && !isNull(raw) {
				req.DatastoreType, _ = stringField(&p, "configuration 'datastore' 'type'", raw)
			}
			if raw, ok := ds["version"]; ok && !isNull(raw) {
				req.DatastoreVersion, _ = stringField(&p, "configuration 'datastore' 'version'", raw)
			}
		}
	}
	if err := p.err(op); err != nil {
		return service.ConfigurationRequest{}, err
	}
	return req, nil
}

// decodeConfigurationUpdate decodes a PUT (replace: values required) or
// PATCH (merge) /configurations/{id} body. Name and description may change
// either way (gophercloud's Update sends them with PATCH).
func decodeConfigurationUpdate(body []byte, replace bool) (service.ConfigurationRequest, error) {
	const op = "api.configuration.update"
	var req service.ConfigurationRequest
	cfg, p, err := configurationObject(op, body)
	if err != nil {
		return req, err
	}
	if raw, ok := cfg["name"]; ok && !isNull(raw) {
		req.Name = groupText(&p, "configuration 'name'", raw, true)
	}
	if raw, ok := cfg["description"]; ok && !isNull(raw) {
		req.Description = groupText(&p, "configuration 'description'", raw, false)
	}
	if raw, ok := cfg["values"]; ok && !isNull(raw) {
		req.Values = decodeValues(&p, "configuration 'values'", raw)
	} else if replace {
		p.add("configuration 'values' is a required property")
	}
	if err := p.err(op); err != nil {
		return service.ConfigurationRequest{}, err
	}
	return req, nil
}

func configurationObject(op string, body []byte) (map[string]json.RawMessage, problems, error) {
	top, err := decodeObject(body)
	if err != nil {
		return nil, nil, err
	}
	raw, ok := top["configuration"]
	if !ok || isNull(raw) {
		return nil, nil, fault.New(fault.Invalid, op, "Validation error: 'configuration' is a required property")
	}
	var p problems
	cfg, ok := objectField(&p, "configuration", raw)
	if !ok {
		return nil, nil, p.err(op)
	}
	return cfg, p, nil
}

// resize is a decoded resize action: a flavor or a volume size.
type resize struct {
	FlavorRef  string
	VolumeSize int
}

// decodeResize decodes {"resize": {"flavorRef": id|"id"|href}} or
// {"resize": {"volume": {"size": N}}} (reference §9.3, §9.5); both at once
// is refused.
func decodeResize(body []byte) (resize, error) {
	const op = "api.instance.action"
	var out resize
	m, err := decodeObject(body)
	if err != nil {
		return out, err
	}
	var p problems
	args, ok := objectField(&p, "resize", m["resize"])
	if !ok {
		return out, p.err(op)
	}
	rawF, hasF := args["flavorRef"]
	rawV, hasV := args["volume"]
	hasF, hasV = hasF && !isNull(rawF), hasV && !isNull(rawV)
	switch {
	case hasF && hasV:
		return out, fault.New(fault.Invalid, op, "Validation error: 'resize' takes either 'flavorRef' or 'volume', not both.")
	case hasF:
		out.FlavorRef = decodeFlavorRef(&p, rawF)
	case hasV:
		if vol, ok := objectField(&p, "resize 'volume'", rawV); ok {
			if raw, ok := vol["size"]; !ok || isNull(raw) {
				p.add("resize 'volume' 'size' is a required property")
			} else if n, ok := intOrDigits(raw); !ok || n < 1 {
				p.add("resize 'volume' 'size' must be an integer of at least 1")
			} else {
				out.VolumeSize = n
			}
		}
	default:
		return out, fault.New(fault.Invalid, op, "Validation error: 'resize' needs 'flavorRef' or 'volume'.")
	}
	if err := p.err(op); err != nil {
		return resize{}, err
	}
	return out, nil
}

// configurationRef decodes an instance's "configuration" attribute: a group
// id or href (its last segment), or null / "" to detach.
func configurationRef(p *problems, raw json.RawMessage) string {
	if isNull(raw) {
		return ""
	}
	s, ok := stringField(p, "instance 'configuration'", raw)
	if !ok {
		return ""
	}
	return lastSegment(strings.TrimSpace(s))
}

package api

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
)

// maxQuotaLimit is the largest limit a quota update may set.
const maxQuotaLimit = 1 << 30

// decodeQuotaUpdate decodes a quota update body (reference §3.4):
// {"quotas": {"<resource>": <limit>, ...}} with at least one resource, each
// limit an integer (or a string of one) from -1 (no limit) to 2^30. Errors
// are fault.Invalid with every problem in one message. Resource names are
// not checked against the known ones here: an unknown one is the service's
// 404, as Trove answers.
func decodeQuotaUpdate(body []byte) (model.QuotaLimits, error) {
	const op = "api.quota.update"
	top, err := decodeObject(body)
	if err != nil {
		return nil, err
	}
	raw, ok := top["quotas"]
	if !ok || isNull(raw) {
		return nil, fault.New(fault.Invalid, op, "Validation error: 'quotas' is a required property")
	}
	var p problems
	m, ok := objectField(&p, "quotas", raw)
	if !ok {
		return nil, p.err(op)
	}
	if len(m) == 0 {
		return nil, fault.New(fault.Invalid, op, "Validation error: 'quotas' must name at least one resource")
	}
	out := model.QuotaLimits{}
	for name, v := range m {
		path := "quotas '" + truncate(name, 64) + "'"
		switch {
		case name == "" || len(name) > 64:
			p.add("quotas: a resource name must be 1 to 64 characters")
			continue
		case !safeText(&p, "quotas: resource name", name):
			continue
		}
		n, ok := quotaLimit(v)
		if !ok {
			p.add("%s must be an integer from -1 (no limit) to %d", path, maxQuotaLimit)
			continue
		}
		out[model.QuotaResource(name)] = n
	}
	if err := p.err(op); err != nil {
		return nil, err
	}
	return out, nil
}

// quotaLimit decodes a limit: a JSON integer or a string of one, from -1
// to maxQuotaLimit.
func quotaLimit(raw json.RawMessage) (int, bool) {
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
	if d := strings.TrimPrefix(s, "-"); d == "" || strings.TrimLeft(d, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < model.Unlimited || n > maxQuotaLimit {
		return 0, false
	}
	return n, true
}

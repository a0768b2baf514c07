package api

import (
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/service"
)

// isUUID reports whether s is a UUID in its canonical textual form.
func isUUID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}

// decodeBackupCreate decodes a backup create body (reference §13.3):
// {"backup": {"name", "instance", "description"?, "parent_id"?}}. Errors
// are fault.Invalid with every problem in one message.
func decodeBackupCreate(body []byte) (service.CreateBackupRequest, error) {
	const op = "api.backup.create"
	var req service.CreateBackupRequest
	top, err := decodeObject(body)
	if err != nil {
		return req, err
	}
	raw, ok := top["backup"]
	if !ok || isNull(raw) {
		return req, fault.New(fault.Invalid, op, "Validation error: 'backup' is a required property")
	}
	var p problems
	m, ok := objectField(&p, "backup", raw)
	if !ok {
		return req, p.err(op)
	}
	if name := requiredString(&p, "backup", "name", m); name != "" {
		validName(&p, "backup 'name'", name)
		req.Name = name
	}
	if inst := requiredString(&p, "backup", "instance", m); inst != "" {
		// Trove HEAD accepts an href; the id is its last segment.
		inst = lastSegment(inst)
		if !isUUID(inst) {
			p.add("backup 'instance' '%s' is not a valid UUID", truncate(inst, 64))
		}
		req.InstanceID = inst
	}
	if d := optionalString(&p, "backup", "description", m); d != "" {
		if utf8.RuneCountInString(d) > maxNameLen {
			p.add("backup 'description' must be at most %d characters", maxNameLen)
		} else {
			safeText(&p, "backup 'description'", d)
		}
		req.Description = d
	}
	if pid := optionalString(&p, "backup", "parent_id", m); pid != "" {
		if !isUUID(pid) {
			p.add("backup 'parent_id' '%s' is not a valid UUID", truncate(pid, 64))
		}
		req.ParentID = pid
	}
	if raw, ok := m["incremental"]; ok && !isNull(raw) {
		if n, ok := intOrDigits(raw); !ok || n > 1 {
			p.add("backup 'incremental' must be 0 or 1")
		} else if n == 1 && req.ParentID == "" {
			req.Incremental = true
		}
	}
	if err := p.err(op); err != nil {
		return service.CreateBackupRequest{}, err
	}
	return req, nil
}

// decodeRestorePoint decodes an instance create's restorePoint:
// {"backupRef": "<uuid>"} (an href is reduced to its last segment).
func decodeRestorePoint(p *problems, raw json.RawMessage) string {
	m, ok := objectField(p, "instance 'restorePoint'", raw)
	if !ok {
		return ""
	}
	ref := requiredString(p, "instance 'restorePoint'", "backupRef", m)
	if ref == "" {
		return ""
	}
	ref = lastSegment(strings.TrimSpace(ref))
	if !isUUID(ref) {
		p.add("instance 'restorePoint' 'backupRef' '%s' is not a valid UUID", truncate(ref, 64))
		return ""
	}
	return ref
}

// decodeSchedule decodes a schedule create (all fields) or update (create
// false: every field optional) body (Rackspace §17.2).
func decodeSchedule(body []byte, create bool) (service.ScheduleRequest, error) {
	const op = "api.schedule"
	var req service.ScheduleRequest
	top, err := decodeObject(body)
	if err != nil {
		return req, err
	}
	raw, ok := top["schedule"]
	if !ok || isNull(raw) {
		return req, fault.New(fault.Invalid, op, "Validation error: 'schedule' is a required property")
	}
	var p problems
	m, ok := objectField(&p, "schedule", raw)
	if !ok {
		return req, p.err(op)
	}
	intIn := func(key string, lo, hi int) *int {
		raw, ok := m[key]
		if !ok || isNull(raw) {
			if create && key != "full_backup_retention" {
				p.add("schedule '%s' is a required property", key)
			}
			return nil
		}
		n, ok := intOrDigits(raw)
		if !ok || n < lo || n > hi {
			p.add("schedule '%s' must be an integer from %d to %d", key, lo, hi)
			return nil
		}
		return &n
	}
	req.DayOfWeek = intIn("day_of_week", 0, 7)
	req.Hour = intIn("hour", 0, 23)
	req.Minute = intIn("minute", 0, 59)
	req.Retention = intIn("full_backup_retention", 1, 100)
	if create {
		if a := requiredString(&p, "schedule", "action", m); a != "" && a != "backup" {
			p.add("schedule 'action' must be \"backup\"")
		}
		inst := optionalString(&p, "schedule", "instance_id", m)
		if inst == "" {
			if src, ok := m["source_id"]; ok && !isNull(src) {
				inst, _ = stringField(&p, "schedule 'source_id'", src)
			}
		}
		if inst == "" {
			p.add("schedule 'instance_id' is a required property")
		} else if !isUUID(inst) {
			p.add("schedule 'instance_id' '%s' is not a valid UUID", truncate(inst, 64))
		}
		req.InstanceID = inst
		if st := optionalString(&p, "schedule", "source_type", m); st != "" && st != "instance" {
			p.add("schedule 'source_type' must be \"instance\"")
		}
	} else if raw, ok := m["run_now"]; ok && !isNull(raw) {
		var b bool
		var s string
		switch {
		case json.Unmarshal(raw, &b) == nil:
			req.RunNow = b
		case json.Unmarshal(raw, &s) == nil && (strings.EqualFold(s, "true") || strings.EqualFold(s, "false")):
			req.RunNow = strings.EqualFold(s, "true")
		default:
			p.add("schedule 'run_now' must be true or false")
		}
	}
	if err := p.err(op); err != nil {
		return service.ScheduleRequest{}, err
	}
	return req, nil
}

package dashboard

import "strings"

// fieldKey names a form field and the words by which the API's fault
// messages refer to it (lower case). The first field whose word occurs in
// a message is the one the message is shown next to.
type fieldKey struct {
	field string
	words []string
}

// The fields of each form, most specific first.
var (
	createFields = []fieldKey{
		{"volume", []string{"volume", "size"}},
		{"flavor", []string{"flavor"}},
		{"datastore", []string{"datastore", "version"}},
		{"configuration", []string{"configuration"}},
		{"backup", []string{"backup", "restorepoint"}},
		{"replica_of", []string{"replica", "source"}},
		{"user_password", []string{"password"}},
		{"user_name", []string{"user"}},
		{"databases", []string{"database"}},
		{"name", []string{"name"}},
	}
	databaseFields = []fieldKey{{"db_name", []string{"database", "name"}}}
	userFields     = []fieldKey{
		{"user_password", []string{"password"}},
		{"user_access", []string{"database"}},
		{"user_name", []string{"user", "name", "host"}},
	}
	resizeFields = []fieldKey{
		{"resize_volume", []string{"volume", "size"}},
		{"resize_flavor", []string{"flavor", "resize"}},
	}
	backupFields        = []fieldKey{{"backup_name", []string{"backup", "name", "description"}}}
	configFields        = []fieldKey{{"configuration", []string{"configuration", "group"}}}
	scheduleFields      = []fieldKey{{"schedule_instance", []string{"instance"}}, {"schedule_time", []string{"hour", "minute", "day"}}}
	configurationFields = []fieldKey{
		{"values", []string{"value", "parameter", "values"}},
		{"datastore", []string{"datastore", "version"}},
		{"name", []string{"name"}},
	}
)

// fieldErrors places a fault message next to the fields it names. A
// validation message may list several problems ("Validation error: a; b"):
// each goes to its own field. What names no field goes to fallback ("" for
// the page's summary only).
func fieldErrors(msg string, keys []fieldKey, fallback string) map[string]string {
	out := map[string]string{}
	body, ok := strings.CutPrefix(msg, "Validation error: ")
	parts := []string{msg}
	if ok {
		parts = strings.Split(body, "; ")
	}
	for _, part := range parts {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		field := fallback
		lower := strings.ToLower(part)
	search:
		for _, k := range keys {
			for _, w := range k.words {
				if strings.Contains(lower, w) {
					field = k.field
					break search
				}
			}
		}
		if field == "" {
			continue
		}
		if prev := out[field]; prev != "" {
			out[field] = prev + "; " + part
		} else {
			out[field] = part
		}
	}
	return out
}

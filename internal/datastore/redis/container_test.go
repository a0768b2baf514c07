package redis

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/hoard-db/hoard/internal/datastore"
)

func TestContainer(t *testing.T) {
	tests := []struct {
		name string
		spec datastore.Spec
		want datastore.Container
	}{
		{"default port", datastore.Spec{DataDir: "/var/lib/hoard/data", Port: 6379}, datastore.Container{
			Image: "docker.io/library/redis:7.0",
			Readiness: []string{"sh", "-c", `REDISCLI_AUTH="$HOARD_ADMIN_PASSWORD" redis-cli --user "$HOARD_ADMIN_USER" ` +
				`-h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -qx PONG`},
		}},
		{"other port", datastore.Spec{DataDir: "/data", Port: 6380}, datastore.Container{
			Image: "docker.io/library/redis:7.0",
			Readiness: []string{"sh", "-c", `REDISCLI_AUTH="$HOARD_ADMIN_PASSWORD" redis-cli --user "$HOARD_ADMIN_USER" ` +
				`-h 127.0.0.1 -p 6380 ping 2>/dev/null | grep -qx PONG`},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := New(Config{}).Container(tt.spec)
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(datastore.Container{}, "Prepare")); diff != "" {
				t.Errorf("Container(%+v) mismatch (-want +got):\n%s", tt.spec, diff)
			}
			// The command reads the account from the variables every
			// container driver sets.
			for _, v := range []string{datastore.EnvAdminUser, datastore.EnvAdminPassword} {
				if !strings.Contains(got.Readiness[2], `"$`+v+`"`) {
					t.Errorf("readiness command %q does not read $%s", got.Readiness[2], v)
				}
			}
		})
	}
}

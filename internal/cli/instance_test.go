package cli

import (
	"testing"

	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/instances"
)

// TestInstanceAddress: the ADDRESS column is the IP addresses, else the
// host name (instances on Kubernetes have only a DNS name).
func TestInstanceAddress(t *testing.T) {
	for _, tc := range []struct {
		in   instances.Instance
		want string
	}{
		{instances.Instance{}, ""},
		{instances.Instance{Hostname: "127.0.1.5", IP: []string{"127.0.1.5"}}, "127.0.1.5"},
		{instances.Instance{Hostname: "127.0.1.5", Addresses: []instances.Address{{Type: "private", Address: "127.0.1.5"}}}, "127.0.1.5"},
		{instances.Instance{Hostname: "hoard-1.hoard-t.svc"}, "hoard-1.hoard-t.svc"},
	} {
		v := viewInstance(&tc.in, nil)
		if got := v.row()[7]; got != tc.want {
			t.Errorf("ADDRESS of %+v = %q, want %q", tc.in, got, tc.want)
		}
	}
}

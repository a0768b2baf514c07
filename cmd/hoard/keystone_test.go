package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKeystoneFlags(t *testing.T) {
	dir := t.TempDir()
	cloudsYAML := filepath.Join(dir, "clouds.yaml")
	if err := os.WriteFile(cloudsYAML, []byte(`clouds:
  hoard-svc:
    auth:
      auth_url: http://keystone.example.com:5000/v3
      username: hoard
      password: from-clouds-yaml
      project_name: services
      user_domain_name: Default
      project_domain_id: default
`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OS_CLIENT_CONFIG_FILE", cloudsYAML)
	tests := []struct {
		name string
		args []string
		// want is "url user password project user-domain project-domain
		// project-domain-id ttl", "" for the built-in identity, "error"
		// when parsing must fail.
		want string
	}{
		{"built-in", nil, ""},
		{"flags", []string{"--keystone-url", "http://ks:5000/v3", "--keystone-service-user", "hoard", "--keystone-service-password", "pw"},
			"http://ks:5000/v3 hoard pw service   - 10s"},
		{"domain and ttl", []string{"--keystone-url", "http://ks:5000", "--keystone-service-user", "hoard", "--keystone-service-password", "pw",
			"--keystone-service-project", "svc", "--keystone-service-domain", "Corp", "--keystone-cache-ttl", "3s"},
			"http://ks:5000 hoard pw svc Corp Corp - 3s"},
		{"clouds.yaml", []string{"--keystone-cloud", "hoard-svc"},
			"http://keystone.example.com:5000/v3 hoard from-clouds-yaml services Default  default 10s"},
		{"clouds.yaml with a flag over it", []string{"--keystone-cloud", "hoard-svc", "--keystone-service-password", "flag-pw"},
			"http://keystone.example.com:5000/v3 hoard flag-pw services Default  default 10s"},
		{"no cache", []string{"--keystone-url", "http://ks:5000", "--keystone-service-user", "u", "--keystone-service-password", "p", "--keystone-cache-ttl", "0"},
			"http://ks:5000 u p service   - -1ns"},
		{"unknown cloud", []string{"--keystone-cloud", "nope"}, "error"},
		{"no password", []string{"--keystone-url", "http://ks:5000", "--keystone-service-user", "hoard"}, "error"},
		{"bad URL", []string{"--keystone-url", "ks:5000", "--keystone-service-user", "u", "--keystone-service-password", "p"}, "error"},
		{"service user without Keystone", []string{"--keystone-service-user", "hoard"}, "error"},
		{"register without Keystone", []string{"--keystone-register-endpoint"}, "error"},
		{"negative ttl", []string{"--keystone-url", "http://ks:5000", "--keystone-service-user", "u", "--keystone-service-password", "p", "--keystone-cache-ttl", "-1s"}, "error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseServeFlags(append([]string{"--data-dir", dir}, tt.args...))
			if tt.want == "error" {
				if err == nil {
					t.Fatalf("parseServeFlags(%q) accepted", tt.args)
				}
				if strings.Contains(err.Error(), "from-clouds-yaml") {
					t.Errorf("error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if k := c.keystone; k != nil {
				pid := k.ServiceProjectDomainID
				if pid == "" {
					pid = "-"
				}
				got = strings.Join([]string{k.URL, k.ServiceUser, k.ServicePassword, k.ServiceProject,
					k.ServiceUserDomain, k.ServiceProjectDomain, pid, k.CacheTTL.String()}, " ")
			}
			if got != tt.want {
				t.Errorf("keystone config = %q, want %q", got, tt.want)
			}
		})
	}
}
